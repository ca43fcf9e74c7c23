#!/usr/bin/env python3
"""Synthetic feeds for the benchmarks: N RSS 2.0 documents of M entries each.

    bench/generate.py DIR SOURCES [ENTRIES]      (default 50 entries per feed)

Entries read like blog posts: titles of 4-9 words, links and guids under a host per feed,
dates an hour apart, HTML bodies of 1-4 KB with paragraphs, links, lists and entities. About 5%
of the entries repeat a story of another feed (same title and body, another link), as syndicated
news does. The output is deterministic: the same arguments give the same bytes.
"""
import os
import random
import sys
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


def main():
    out, sources = sys.argv[1], int(sys.argv[2])
    entries = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    os.makedirs(out, exist_ok=True)
    rng = random.Random(9)
    stories = []  # (title, body) of every entry so far, for the syndicated copies
    for feed in range(sources):
        host = "feed%05d.example" % feed
        items = []
        for n in range(entries):
            if stories and rng.random() < 0.05:
                title, html = rng.choice(stories)
            else:
                title, html = sentence(rng, 4, 9), body(rng, rng.randint(1024, 4096))
                stories.append((title, html))
            date = formatdate(1_700_000_000 - n * 3600 - feed * 7, usegmt=True)
            link = "https://%s/posts/%d" % (host, n)
            items.append(
                "<item><title>%s</title><link>%s</link><guid>%s</guid><pubDate>%s</pubDate>"
                "<description>%s</description></item>" % (escape(title), link, link, date, escape(html)))
        document = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Feed %d</title><link>https://%s/</link><description>Synthetic</description>%s"
            "</channel></rss>\n" % (feed, host, "".join(items)))
        with open(os.path.join(out, "feed%05d.xml" % feed), "w", encoding="utf-8") as file:
            file.write(document)


if __name__ == "__main__":
    main()
