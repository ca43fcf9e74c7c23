#!/usr/bin/env python3
"""WebSub latency, end to end on loopback: from a source's hub pushing a new story to
tributary, to a reader subscribed at tributary's hub receiving the new merged feed.

    bench/websub_latency.py [--pushes 100] [--binary target/release/tributary]

Plays every other party with the standard library: the publisher (its feed, naming its hub),
the publisher's hub (takes tributary's subscription, verifies it, pushes signed documents) and
the reader (subscribes at tributary's hub, echoes the challenge, records each delivery). The
source is polled once a year, so every story arrives by push. Prints p50, p95 and max in ms.
Build the release binary first (`cargo build --release`).
"""

import argparse
import hashlib
import hmac
import http.server
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class Parties:
    """The publisher, its hub and the reader, on one loopback server."""

    def __init__(self):
        self.port = free_port()
        self.stories = 1
        self.subscriber = None  # (callback, secret) of tributary at the publisher's hub
        self.reader_verified = threading.Event()
        self.deliveries = []  # (time received, body)
        self.delivered = threading.Condition()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def feed(self):
        items = "".join(
            f"<item><guid>story-{n}</guid><title>Story {n}</title>"
            f"<description>Story {n} of the bench.</description></item>"
            for n in range(self.stories, 0, -1)
        )
        return (
            '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>Publisher</title><link>{self.url('/')}</link><description>d</description>"
            f'<atom:link rel="hub" href="{self.url("/hub")}"/>'
            f'<atom:link rel="self" href="{self.url("/feed.xml")}"/>{items}</channel></rss>'
        ).encode()

    def serve(self):
        parties = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/feed.xml":
                    self.answer(200, parties.feed())
                elif url.path == "/reader":
                    parties.reader_verified.set()
                    self.answer(200, query.get("hub.challenge", "").encode())
                else:
                    self.answer(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/hub":
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    self.answer(202)
                    threading.Thread(target=parties.verify, args=(form,)).start()
                elif self.path == "/reader":
                    with parties.delivered:
                        parties.deliveries.append((time.perf_counter(), body))
                        parties.delivered.notify_all()
                    self.answer(202)
                else:
                    self.answer(404)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def verify(self, form):
        challenge = "c" + str(time.time_ns())
        query = urllib.parse.urlencode(
            {
                "hub.mode": form["hub.mode"],
                "hub.topic": form["hub.topic"],
                "hub.challenge": challenge,
                "hub.lease_seconds": "864000",
            }
        )
        with urllib.request.urlopen(f"{form['hub.callback']}?{query}") as answer:
            if answer.read().decode() == challenge and form["hub.mode"] == "subscribe":
                self.subscriber = (form["hub.callback"], form["hub.secret"])

    def push(self):
        """The publisher's hub pushes the current feed to tributary."""
        callback, secret = self.subscriber
        body = self.feed()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            callback,
            data=body,
            headers={
                "Content-Type": "application/rss+xml",
                "X-Hub-Signature": f"sha256={signature}",
            },
        )
        urllib.request.urlopen(request).read()


def wait(what, condition, seconds=20):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.01)


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--pushes", type=int, default=100)
    arguments.add_argument("--binary", default=str(root / "target/release/tributary"))
    options = arguments.parse_args()

    parties = Parties()
    parties.serve()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    work = pathlib.Path(tempfile.mkdtemp())
    (work / "config.yaml").write_text(
        f'feed:\n  base_url: "{base_url}"\nserver:\n  listen: "127.0.0.1:{port}"\n'
        'storage:\n  path: "data/tributary.db"\n'
        "fetch:\n  allow_private_addresses: true\n  min_interval: 0s\n  jitter: 0s\n"
        f'sources:\n  - name: "publisher"\n    url: "{parties.url("/feed.xml")}"\n'
        '    schedule: "0 0 1 1 *"\n'
    )
    daemon = subprocess.Popen(
        [options.binary, "--config", str(work / "config.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait("tributary to subscribe at the publisher's hub", lambda: parties.subscriber)
        form = urllib.parse.urlencode(
            {
                "hub.mode": "subscribe",
                "hub.topic": f"{base_url}/feed.atom",
                "hub.callback": parties.url("/reader"),
            }
        ).encode()
        urllib.request.urlopen(urllib.request.Request(f"{base_url}/websub", data=form)).read()
        wait("the reader's subscription", parties.reader_verified.is_set)

        latencies = []
        for _ in range(options.pushes):
            parties.stories += 1
            story = f"Story {parties.stories}<".encode()
            started = time.perf_counter()
            parties.push()
            with parties.delivered:
                arrived = parties.delivered.wait_for(
                    lambda: any(story in body for _, body in parties.deliveries), timeout=20
                )
                if not arrived:
                    sys.exit(f"story {parties.stories} never reached the reader")
                received = next(at for at, body in parties.deliveries if story in body)
            latencies.append((received - started) * 1000)
        latencies.sort()
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(
            f"{len(latencies)} pushes: p50 {statistics.median(latencies):.1f} ms, "
            f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
        )
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    main()
