#!/usr/bin/env python3
"""Python feedparser's throughput on the feeds the ingest bench reads, for comparison.

    bench/ingest_feedparser.py [--damaged] DIR

DIR holds feedNNNNN.xml (RSS 2.0) and feedNNNNN.atom (Atom 1.0) files, as written by
`bench/generate.py --atom DIR SOURCES [ENTRIES]`; give the same DIR to the Rust bench with
TRIBUTARY_BENCH_CORPUS=DIR to compare readers on the very same bytes. Each format is parsed
from bytes in memory (no file I/O timed), three times over; the best pass is reported, in a
line shaped like criterion's, in decimal MB/s as `cargo bench --bench ingest` reports.
feedparser sanitizes HTML and resolves relative links by default, as tributary does, so its
figure compares with `ingest/tributary/*` more than with the bare XML readers. With --damaged,
each document is first damaged as `damaged` in benches/ingest.rs does (a PHP
warning before it, entries never closed, bare `&`), to compare with `ingest/tributary-repaired/*`.
"""
import glob
import os
import sys
import time

PASSES = 3
PHP_WARNING = (b"<br />\n<b>Warning</b>:  Cannot modify header information - headers already sent "
               b"in <b>/var/www/feed.php</b> on line <b>12</b><br />\n")


def damaged(document):
    text = document.replace(b"</item>", b"").replace(b"</entry>", b"").replace(b"&amp;", b"&")
    return PHP_WARNING + text

try:
    import feedparser
except ImportError:
    sys.exit("bench/ingest_feedparser.py: Python feedparser is not installed "
             "(pip install feedparser, or apt-get install python3-feedparser)")


def best_pass(documents, sloppy):
    best = float("inf")
    for _ in range(PASSES):
        start = time.perf_counter()
        for document in documents:
            parsed = feedparser.parse(document)
            if parsed.bozo != sloppy or not parsed.entries:
                sys.exit("feedparser read a document unexpectedly: bozo %s, %d entries"
                         % (parsed.bozo, len(parsed.entries)))
        best = min(best, time.perf_counter() - start)
    return best


def load(folder, extension):
    paths = sorted(glob.glob(os.path.join(folder, "feed*." + extension)))
    if not paths:
        sys.exit("no feed*.%s files in %s: make them with bench/generate.py --atom"
                 % (extension, folder))
    documents = []
    for path in paths:
        with open(path, "rb") as file:
            documents.append(file.read())
    return documents


def main():
    arguments = sys.argv[1:]
    sloppy = arguments[:1] == ["--damaged"]
    arguments = arguments[1:] if sloppy else arguments
    if len(arguments) != 1:
        sys.exit("usage: bench/ingest_feedparser.py [--damaged] DIR")
    formats = [(kind, load(arguments[0], extension))
               for extension, kind in (("xml", "rss"), ("atom", "atom"))]
    for kind, documents in formats:
        if sloppy:
            documents = [damaged(document) for document in documents]
        size = sum(map(len, documents))
        seconds = best_pass(documents, sloppy)
        name = "ingest/feedparser%s/%s" % ("-repaired" if sloppy else "", kind)
        print("%-30sfiles: %d, %.2f MB, best of %d passes" % (name, len(documents), size / 1e6, PASSES))
        print("%-30stime:   %.2f ms" % ("", seconds * 1e3))
        print("%-30sthrpt:  %.3f MB/s" % ("", size / seconds / 1e6))
    print("feedparser %s, Python %s" % (feedparser.__version__, sys.version.split()[0]))


if __name__ == "__main__":
    main()
