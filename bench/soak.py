#!/usr/bin/env python3
"""Soak: the release daemon polling many sources every minute under HTTP load, for a long time.

    bench/soak.py [--minutes 30] [--sources 1000] [--connections 16] [--csv FILE]

Needs nginx, wrk and python3; run `cargo build --release` first. Nothing is written
outside a temp dir (but the --csv file).

What runs, all on 127.0.0.1:
- nginx serves SOURCES synthetic feeds (bench/generate.py, 20 entries each). Every 6 s, ten
  feeds chosen at random get a new entry (one in ten a story another feed also carries, so
  dedup across sources has work), written atomically. Every 5 minutes a new seed file appears.
- 25 injected faults among the sources: 10 answer 404, 10 serve a document that is no feed,
  5 point at a port nobody listens on. These, and only these, should fail.
- tributary polls every source every minute (`schedule: "* * * * *"`, jitter 20 s), with
  --log-format json. Half-way, the config gains 10 sources (a reload, not a restart).
- wrk -t1 -cCONNECTIONS for the whole run: /feed.atom, /feed.rss, /feed.json, / and one
  source's feed in turn, every other request conditional on the ETag last seen for that path.
- Every 10 s: the daemon's RSS, peak RSS, threads, open files, CPU time, polls by outcome and
  entries stored.

At the end (SIGTERM, then the exit code is checked) it prints a Markdown report: polls per
source, every failing source and every warning or error logged outside the injected sources,
responses by status, the memory trend (least-squares slope of RSS after the first 5 minutes,
and the mean RSS of the first and last 5 minutes of that window), and whether every entry the
origin published is in the store.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402  (bench/generate.py: the synthetic feeds)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tributary")
ENTRIES_PER_FEED = 20
MISSING, NOT_A_FEED, NO_SERVER = 10, 10, 5
RELOAD_SOURCES = 10
CHANGE_EVERY_SECONDS, FEEDS_CHANGED = 6, 10
SEED_EVERY_SECONDS = 300
SAMPLE_EVERY_SECONDS = 10
WARM_UP_SECONDS = 300

WRK_SCRIPT = """
local paths = {"/feed.atom", "/feed.rss", "/feed.json", "/", "/sources/s00001/feed.atom"}
local etags = {}
local n = 0
local current = nil
request = function()
  n = n + 1
  current = paths[(n % #paths) + 1]
  local headers = {}
  if n % 2 == 0 and etags[current] then headers["If-None-Match"] = etags[current] end
  return wrk.format("GET", current, headers)
end
response = function(status, headers, body)
  local etag = headers["etag"] or headers["ETag"]
  if status == 200 and etag then etags[current] = etag end
end
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("bench/soak.py: %s did not happen within %d s" % (what, seconds))


def source_name(n):
    return "s%05d" % n


def write_config(path, origin, http_port, sources, dead_port):
    lines = [
        "feed:\n  max_entries: 100\n  base_url: \"http://127.0.0.1:%d\"\n" % http_port,
        "storage:\n  path: \"tributary.db\"\n",
        "server:\n  listen: \"127.0.0.1:%d\"\n" % http_port,
        "schedule: \"* * * * *\"\n",
        "seeds:\n  dir: \"seeds\"\n",
        # One host serves every feed here: the per-host limit would make this a test of it.
        "fetch:\n  jitter: 20s\n  min_interval: 0s\n  max_per_host: 16\n  max_concurrent: 16\n"
        "  timeout: 10s\n",
        "sources:\n",
    ]
    for n in range(sources):
        lines.append("  - name: \"%s\"\n    url: \"%s/feed%05d.xml\"\n" % (source_name(n), origin, n))
    for n in range(MISSING):
        lines.append("  - name: \"missing-%d\"\n    url: \"%s/missing%d.xml\"\n" % (n, origin, n))
    for n in range(NOT_A_FEED):
        lines.append("  - name: \"not-a-feed-%d\"\n    url: \"%s/broken%d.xml\"\n" % (n, origin, n))
    for n in range(NO_SERVER):
        lines.append("  - name: \"no-server-%d\"\n    url: \"http://127.0.0.1:%d/feed.xml\"\n"
                     % (n, dead_port))
    temporary = path + ".new"
    with open(temporary, "w") as file:
        file.write("".join(lines))
    os.replace(temporary, path)


class Origin:
    """The feeds nginx serves, and the entries added to them while the soak runs."""

    def __init__(self, www, feeds):
        self.www = www
        self.feeds = feeds
        self.rng = random.Random(11)
        self.published = []  # links of every entry added, each with a body of its own
        self.syndicated = 0
        self.shared_story = (generate.sentence(self.rng, 4, 9),
                             generate.body(self.rng, 2048))

    def add_entries(self, round_number):
        for feed in self.rng.sample(range(self.feeds), FEEDS_CHANGED):
            path = os.path.join(self.www, "feed%05d.xml" % feed)
            link = "https://feed%05d.example/soak/%d" % (feed, round_number)
            if self.rng.random() < 0.1:
                title, html = self.shared_story
                self.syndicated += 1
            else:
                title, html = "%s %d" % (generate.sentence(self.rng, 4, 9), round_number), \
                    generate.body(self.rng, self.rng.randint(1024, 4096))
                self.published.append(link)
            item = generate.rss(feed, "", [(title, link, time.time(), html)])
            item = item[item.index("<item>"):item.index("</channel>")]
            with open(path, encoding="utf-8") as file:
                document = file.read()
            marker = "<description>Synthetic</description>"
            document = document.replace(marker, marker + item, 1)
            with open(path + ".new", "w", encoding="utf-8") as file:
                file.write(document)
            os.replace(path + ".new", path)


def sample(pid, http_port):
    with open("/proc/%d/status" % pid) as file:
        status = dict(line.split(":", 1) for line in file)
    with open("/proc/%d/stat" % pid) as file:
        fields = file.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    metrics = get("http://127.0.0.1:%d/metrics" % http_port)
    polls = {}
    for match in re.finditer(r'^tributary_polls_total\{.*outcome="(\w+)".*\} (\d+)', metrics, re.M):
        polls[match.group(1)] = polls.get(match.group(1), 0) + int(match.group(2))
    stored = re.search(r"^tributary_entries_stored (\d+)", metrics, re.M)
    return {
        "rss_kb": int(status["VmRSS"].split()[0]),
        "hwm_kb": int(status["VmHWM"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir("/proc/%d/fd" % pid)),
        "cpu_s": ticks / os.sysconf("SC_CLK_TCK"),
        "polls_ok": polls.get("ok", 0),
        "polls_304": polls.get("not_modified", 0),
        "polls_failed": polls.get("failed", 0),
        "entries": int(stored.group(1)) if stored else 0,
    }


def polls_by_source(metrics):
    """{source: {outcome: count}} from the /metrics text."""
    polls = {}
    for match in re.finditer(
            r'^tributary_polls_total\{source="([^"]+)",outcome="(\w+)"\} (\d+)', metrics, re.M):
        polls.setdefault(match.group(1), {})[match.group(2)] = int(match.group(3))
    return polls


def poll_once_more(http_port, sources):
    """Waits until each of the sources has been polled again: then the store has seen
    everything the origin published before this call."""
    url = "http://127.0.0.1:%d/metrics" % http_port
    before = polls_by_source(get(url))
    def all_polled_again():
        now = polls_by_source(get(url))
        return all(sum(now.get(name, {}).values()) > sum(before.get(name, {}).values())
                   for name in sources)
    wait_until(all_polled_again, 150, "a poll of every source after the last change")


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return 3600 * num / den if den else 0.0


def report(args, samples, metrics, log_lines, wrk_output, origin, store_path, exit_code,
           shutdown_seconds, injected):
    print("## Soak: %d min, %d sources polled every minute, wrk -t1 -c%d\n"
          % (args.minutes, args.sources, args.connections))

    polls = polls_by_source(metrics)
    regular = [source_name(n) for n in range(args.sources)]
    per_source = sorted(sum(polls.get(name, {}).values()) for name in regular)
    print("- polls per regular source: min %d, median %d, max %d (%d minutes, plus the start-up "
          "poll and one after the last change)"
          % (per_source[0], statistics.median(per_source), per_source[-1], args.minutes))
    added = [source_name(n) for n in range(args.sources, args.sources + RELOAD_SOURCES)]
    reloads = re.findall(r'^tributary_config_reloads_total\{result="(\w+)"\} (\d+)', metrics, re.M)
    print("- sources added by the reload half-way: %d of %d polled; reloads: %s"
          % (sum(1 for name in added if polls.get(name)), len(added),
             ", ".join("%s %s" % reload for reload in reloads) or "none"))
    failing = sorted(name for name, outcomes in polls.items() if outcomes.get("failed"))
    unexpected_failures = [name for name in failing if name not in injected]
    print("- sources with failed polls: %d (injected: %d); not injected: %s"
          % (len(failing), len(injected), unexpected_failures or "none"))

    unexpected_logs = []
    for line in log_lines:
        try:
            event = json.loads(line)
        except ValueError:
            unexpected_logs.append(line)
            continue
        if event.get("level") in ("WARN", "ERROR") and \
                event.get("fields", {}).get("source") not in injected:
            unexpected_logs.append(line)
    print("- warnings and errors logged: %d lines, %d outside the injected sources"
          % (sum('"level":"WARN"' in line or '"level":"ERROR"' in line for line in log_lines),
             len(unexpected_logs)))
    for line in unexpected_logs[:20]:
        print("    " + line.strip()[:300])

    statuses = re.findall(r'^tributary_http_requests_total\{route="([^"]+)",status="(\d+)"\} (\d+)',
                          metrics, re.M)
    by_status = {}
    for _, status, count in statuses:
        by_status[status] = by_status.get(status, 0) + int(count)
    print("- responses by status: %s" % ", ".join("%s: %d" % item for item in sorted(by_status.items())))
    summary = [line.strip() for line in wrk_output.splitlines()
               if re.match(r"\s*(Requests/sec|Latency|\d+ requests|Socket errors|Non-2xx|\s*99%)", line)]
    print("- wrk: " + " | ".join(summary))

    window = [s for s in samples if s["t"] >= WARM_UP_SECONDS]
    if len(window) >= 4:
        fifth = [s for s in window if s["t"] < WARM_UP_SECONDS + 300]
        last = [s for s in window if s["t"] >= window[-1]["t"] - 300]
        print("- RSS after the first %d min: slope %+.1f MB/hour; mean %.1f MB in its first 5 min, "
              "%.1f MB in the last 5; peak RSS %.1f MB"
              % (WARM_UP_SECONDS // 60,
                 slope_per_hour([(s["t"], s["rss_kb"] / 1024) for s in window]),
                 statistics.fmean(s["rss_kb"] for s in fifth) / 1024,
                 statistics.fmean(s["rss_kb"] for s in last) / 1024,
                 samples[-1]["hwm_kb"] / 1024))
    first, final = samples[0], samples[-1]
    print("- threads %d -> %d; open files %d -> %d; daemon CPU %.0f s in %.0f s (%.0f%% of a core)"
          % (first["threads"], final["threads"], first["fds"], final["fds"], final["cpu_s"],
             final["t"], 100 * final["cpu_s"] / final["t"]))

    store = sqlite3.connect(store_path)
    stored_links = {row[0] for row in store.execute("SELECT link FROM entries")}
    missing = [link for link in origin.published if link not in stored_links]
    print("- entries stored: %d; entries the origin added: %d with a body of their own "
          "(missing from the store: %d) and %d syndicated copies"
          % (store.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
             len(origin.published), len(missing), origin.syndicated))
    print("- shutdown: exit code %d after %.1f s" % (exit_code, shutdown_seconds))
    return not unexpected_failures and not unexpected_logs and not missing and exit_code == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--csv", help="write the samples here")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit("bench/soak.py: %s is not installed (apt-get install nginx-light wrk)" % tool)
    if not os.access(BINARY, os.X_OK):
        sys.exit("bench/soak.py: %s is missing: run cargo build --release" % BINARY)

    work = tempfile.mkdtemp(prefix="tributary-soak.")
    os.chmod(work, 0o755)  # nginx workers run as another user when started by root
    processes = []
    try:
        www = os.path.join(work, "www")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "generate.py"), www,
                        str(args.sources + RELOAD_SOURCES), str(ENTRIES_PER_FEED)], check=True)
        for n in range(NOT_A_FEED):
            with open(os.path.join(www, "broken%d.xml" % n), "w") as file:
                file.write("<html><body>Maintenance %d</body></html>\n" % n)
        origin_port, http_port, dead_port = free_port(), free_port(), free_port()
        origin_url = "http://127.0.0.1:%d" % origin_port
        with open(os.path.join(work, "nginx.conf"), "w") as file:
            file.write("""worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp;
    uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp;
    types {{ application/rss+xml xml; }}
    server {{ listen 127.0.0.1:{p}; root {www}; }}
}}
""".format(w=work, p=origin_port, www=www))
        os.mkdir(os.path.join(work, "tmp"))
        processes.append(subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf"),
                                           "-g", "daemon off;"]))
        wait_until(lambda: get(origin_url + "/feed00000.xml"), 10, "nginx answering")

        run_dir = os.path.join(work, "run")
        os.makedirs(os.path.join(run_dir, "seeds"))
        config = os.path.join(run_dir, "config.yaml")
        write_config(config, origin_url, http_port, args.sources, dead_port)
        injected = {"missing-%d" % n for n in range(MISSING)} | \
            {"not-a-feed-%d" % n for n in range(NOT_A_FEED)} | \
            {"no-server-%d" % n for n in range(NO_SERVER)}
        log_path = os.path.join(work, "daemon.log")
        with open(log_path, "w") as log:
            daemon = subprocess.Popen([BINARY, "--config", config, "--log-format", "json"],
                                      stdout=subprocess.DEVNULL, stderr=log)
        processes.append(daemon)
        wait_until(lambda: get("http://127.0.0.1:%d/healthz" % http_port), 30, "the daemon answering")

        script = os.path.join(work, "soak.lua")
        with open(script, "w") as file:
            file.write(WRK_SCRIPT)
        seconds = args.minutes * 60
        wrk = subprocess.Popen(["wrk", "-t1", "-c%d" % args.connections, "-d%ds" % seconds,
                                "--latency", "-s", script, "http://127.0.0.1:%d" % http_port],
                               stdout=subprocess.PIPE, text=True)
        processes.append(wrk)

        origin = Origin(www, args.sources)
        samples = []
        start = time.monotonic()
        next_change = next_seed = next_sample = 0.0
        reloaded = False
        round_number = 0
        while (now := time.monotonic() - start) < seconds:
            if now >= next_change:
                round_number += 1
                origin.add_entries(round_number)
                next_change += CHANGE_EVERY_SECONDS
            if now >= next_seed:
                with open(os.path.join(run_dir, "seeds", "note-%03d.txt" % round_number), "w") as file:
                    file.write("date %s\ntitle: Soak note %d\n\nWritten %d s into the soak.\n"
                               % (time.strftime("%Y-%m-%d", time.gmtime()), round_number, now))
                next_seed += SEED_EVERY_SECONDS
            if now >= next_sample:
                samples.append({"t": round(now), **sample(daemon.pid, http_port)})
                next_sample += SAMPLE_EVERY_SECONDS
            if not reloaded and now >= seconds / 2:
                write_config(config, origin_url, http_port, args.sources + RELOAD_SOURCES, dead_port)
                reloaded = True
            if daemon.poll() is not None:
                with open(log_path) as file:
                    last_lines = "".join(file.readlines()[-20:])
                sys.exit("bench/soak.py: the daemon exited with %d; the end of its log:\n%s"
                         % (daemon.returncode, last_lines))
            time.sleep(0.5)
        wrk_output, _ = wrk.communicate(timeout=60)
        poll_once_more(http_port, [source_name(n) for n in range(args.sources + RELOAD_SOURCES)])
        samples.append({"t": round(time.monotonic() - start), **sample(daemon.pid, http_port)})
        metrics = get("http://127.0.0.1:%d/metrics" % http_port)
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        exit_code = daemon.wait(timeout=60)
        shutdown_seconds = time.monotonic() - stopping

        if args.csv:
            with open(args.csv, "w") as file:
                file.write(",".join(samples[0]) + "\n")
                for row in samples:
                    file.write(",".join(str(value) for value in row.values()) + "\n")
        with open(log_path) as file:
            log_lines = file.readlines()
        clean = report(args, samples, metrics, log_lines, wrk_output, origin,
                       os.path.join(run_dir, "tributary.db"), exit_code, shutdown_seconds, injected)
        sys.exit(0 if clean else 1)
    finally:
        # SIGTERM, not SIGKILL: nginx's master then stops its workers, which would otherwise
        # live on holding our stdout open (and whatever pipe reads it waiting for ever).
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
