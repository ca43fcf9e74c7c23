#!/usr/bin/env python3
"""Synthetic feeds for the benchmarks: N RSS 2.0 documents of M entries each.

    bench/generate.py [--atom] DIR SOURCES [ENTRIES]      (default 50 entries per feed)

With --atom, each feed is also written as Atom 1.0 (feedNNNNN.atom beside feedNNNNN.xml): the
same entries, with the body as HTML content and dates in RFC 3339, so readers of both formats
can be compared on the same text. The RSS files are the same bytes with or without it.

Entries read like blog posts: titles of 4-9 words, links and guids under a host per feed,
dates an hour apart, HTML bodies of 1-4 KB with paragraphs, links, lists and entities. About 5%
of the entries repeat a story of another feed (same title and body, another link), as syndicated
news does. The output is deterministic: the same arguments give the same bytes.
"""
import argparse
import os
import random
from datetime import datetime, timezone
from email.utils import formatdate
from xml.sax.saxutils import escape

WORDS = (
    "river feed cache poll origin entry source merge planet atom channel item server client "
    "header request answer byte hash store index link title date author summary content tag "
    "slice schedule minute hour day week rust release kernel patch review memory latency "
    "network storage daemon reader publisher bridge kayak harbour valley mountain weather "
    "election budget council school library museum festival garden market railway station"
).split()


def sentence(rng, low, high):
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize()


def body(rng, size):
    parts = []
    while sum(map(len, parts)) < size:
        kind = rng.random()
        if kind < 0.6:
            parts.append("<p>%s &amp; %s. %s&#8217;s &ldquo;%s&rdquo;.</p>" % (
                sentence(rng, 8, 20), sentence(rng, 3, 8), sentence(rng, 2, 5), sentence(rng, 2, 4)))
        elif kind < 0.8:
            parts.append('<p>See <a href="https://example.org/%s">%s</a> &mdash; %s.</p>' % (
                rng.choice(WORDS), sentence(rng, 2, 4), sentence(rng, 5, 12)))
        else:
            items = "".join("<li>%s</li>" % sentence(rng, 2, 6) for _ in range(rng.randint(2, 5)))
            parts.append("<ul>%s</ul>" % items)
    return "".join(parts)


def rss(feed, host, entries):
    items = "".join(
        "<item><title>%s</title><link>%s</link><guid>%s</guid><pubDate>%s</pubDate>"
        "<description>%s</description></item>" % (
            escape(title), link, link, formatdate(time, usegmt=True), escape(html))
        for title, link, time, html in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Feed %d</title><link>https://%s/</link><description>Synthetic</description>%s"
        "</channel></rss>\n" % (feed, host, items))


def atom(feed, host, entries):
    def rfc3339(time):
        return datetime.fromtimestamp(time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    items = "".join(
        '<entry><title>%s</title><id>%s</id><link href="%s"/><updated>%s</updated>'
        '<content type="html">%s</content></entry>' % (
            escape(title), link, link, rfc3339(time), escape(html))
        for title, link, time, html in entries)
    newest = max((time for _, _, time, _ in entries), default=0)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>Feed %d</title><id>https://%s/</id><link href="https://%s/"/><updated>%s</updated>'
        "<author><name>Feed %d</name></author>%s</feed>\n" % (
            feed, host, host, rfc3339(newest), feed, items))


def main():
    parser = argparse.ArgumentParser(description="Writes synthetic feeds for the benchmarks.")
    parser.add_argument("--atom", action="store_true", help="also write each feed as Atom 1.0")
    parser.add_argument("dir")
    parser.add_argument("sources", type=int)
    parser.add_argument("entries", type=int, nargs="?", default=50)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(9)
    stories = []  # (title, body) of every entry so far, for the syndicated copies
    for feed in range(args.sources):
        host = "feed%05d.example" % feed
        entries = []  # (title, link, unix time, HTML body)
        for n in range(args.entries):
            if stories and rng.random() < 0.05:
                title, html = rng.choice(stories)
            else:
                title, html = sentence(rng, 4, 9), body(rng, rng.randint(1024, 4096))
                stories.append((title, html))
            link = "https://%s/posts/%d" % (host, n)
            entries.append((title, link, 1_700_000_000 - n * 3600 - feed * 7, html))
        formats = [("xml", rss)] + ([("atom", atom)] if args.atom else [])
        for extension, render in formats:
            path = os.path.join(args.dir, "feed%05d.%s" % (feed, extension))
            with open(path, "w", encoding="utf-8") as file:
                file.write(render(feed, host, entries))


if __name__ == "__main__":
    main()
