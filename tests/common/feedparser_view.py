#!/usr/bin/env python3
"""What Python's feedparser reads in feed documents, as JSON: the oracle of tests/liberal.rs.

    python3 tests/common/feedparser_view.py FILE...
        prints one JSON object {path: view}, where a view is
        {"feedparser": "6.0.14",      feedparser's version
         "version": "rss20",          the format feedparser recognised ("" for none)
         "bozo": bool, "bozo_exception": str|null,
         "fault": str|null,           the first well-formedness fault, found by expat (not by
                                      feedparser), or an encoding declaration the bytes contradict
         "feed": {"title", "subtitle", "link", "published", "updated", "author"},
         "entries": [{"title", "link", "date", "id", "author"}],
         "json_items": int|null}      for .json files: how many objects `items` holds (read with
                                      the json module: feedparser 6.0 has no JSON Feed reader)
        Titles are what a reader shows: tags stripped and entities unescaped when feedparser
        says the title is HTML, runs of ASCII white space collapsed, empty means null. A date is
        published_parsed, else updated_parsed, else created_parsed, in RFC 3339 UTC. An author
        is {"name", "email", "uri"} from feedparser's author_detail, or null.

    python3 tests/common/feedparser_view.py --variants OUTDIR FILE...
        writes damaged copies of each well-formed XML document into OUTDIR and prints their
        paths, one a line: three cut at random points (`STEM.cut_N.EXT`), one with every
        `&amp;` written as a bare `&` (`STEM.amp.EXT`), one with junk before the XML
        declaration (`STEM.junk.EXT`: a PHP notice, a UTF-8 BOM and blank lines, or a comment).
        The random choices are seeded by the file's name, so the same file always gives the
        same variants.

Files are read as bytes and handed to feedparser.parse with no HTTP headers and no address.
"""

import html
import html.parser
import io
import json
import os
import random
import re
import sys
import time
import warnings
import xml.sax
import xml.sax.handler

import feedparser

# ASCII white space, as HTML collapses it: a no-break space is left alone.
ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
XML_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)[\"']")
SINGLE_BYTE = re.compile(r"^(iso-?8859-\d+|latin-?1|windows-125\d|cp125\d|us-ascii|ascii)$", re.I)


class _TextOnly(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def strip_tags(markup):
    reader = _TextOnly()
    reader.feed(markup)
    reader.close()
    return "".join(reader.parts)


def shown(value, detail):
    """A title as a reader shows it, or None when there is nothing to show."""
    if value is None:
        return None
    kind = (detail or {}).get("type", "text/plain")
    if kind in HTML_TYPES:
        value = strip_tags(value)
    value = ASCII_SPACE.sub(" ", value).strip(" ")
    return value or None


def rfc3339(parsed):
    if parsed is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)


def raw(d, key):
    # dict.get, not FeedParserDict.get: no fallback from updated to published.
    return dict.get(d, key)


def date_of(d):
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if raw(d, key) is not None:
            return rfc3339(raw(d, key))
    return None


def person(detail):
    if not detail:
        return None
    view = {
        "name": detail.get("name") or None,
        "email": detail.get("email") or None,
        "uri": detail.get("href") or None,
    }
    return view if any(view.values()) else None


def clean(text):
    return None if text is None else text.strip() or None


class _Quiet(xml.sax.handler.ContentHandler):
    pass


def expat_fault(data):
    """The first fault expat finds in the bytes (with namespaces, as feedparser's strict parser)."""
    parser = xml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_namespaces, True)
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    parser.setContentHandler(_Quiet())
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        parser.parse(source)
    except xml.sax.SAXParseException as error:
        return f"line {error.getLineNumber()}, column {error.getColumnNumber()}: {error.getMessage()}"
    return None


def encoding_fault(data):
    """A declared single-byte encoding contradicted by bytes that are UTF-8 (multibyte)."""
    match = XML_DECLARATION.match(data)
    if not match:
        return None
    declared = match.group(1).decode("ascii", "replace")
    if not SINGLE_BYTE.match(declared) or data.isascii():
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return f"declares {declared} but its bytes are UTF-8"


def fault_of(path, data):
    if path.endswith(".json"):
        try:
            json.loads(data)
        except ValueError as error:
            return f"not JSON: {error}"
        return None
    return expat_fault(data) or encoding_fault(data)


def json_items(path, data):
    if not path.endswith(".json"):
        return None
    try:
        items = json.loads(data).get("items")
    except (ValueError, AttributeError):
        return None
    return sum(isinstance(item, dict) for item in items) if isinstance(items, list) else None


def view(path):
    with open(path, "rb") as file:
        data = file.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(data)
    feed = parsed.feed
    exception = parsed.get("bozo_exception")
    return {
        "feedparser": feedparser.__version__,
        "version": parsed.get("version") or "",
        "bozo": bool(parsed.bozo),
        "bozo_exception": None if exception is None else f"{type(exception).__name__}: {exception}",
        "fault": fault_of(path, data),
        "feed": {
            "title": shown(raw(feed, "title"), raw(feed, "title_detail")),
            "subtitle": shown(raw(feed, "subtitle"), raw(feed, "subtitle_detail")),
            "link": clean(raw(feed, "link")),
            "published": rfc3339(raw(feed, "published_parsed")),
            "updated": rfc3339(raw(feed, "updated_parsed")),
            "author": person(raw(feed, "author_detail")),
        },
        "entries": [
            {
                "title": shown(raw(entry, "title"), raw(entry, "title_detail")),
                "link": clean(raw(entry, "link")),
                "date": date_of(entry),
                "id": clean(raw(entry, "id")),
                "author": person(raw(entry, "author_detail")),
            }
            for entry in parsed.entries
        ],
        "json_items": json_items(path, data),
    }


PHP_NOTICE = (
    b"<br />\n<b>Notice</b>:  Undefined index: HTTP_ACCEPT_LANGUAGE in "
    b"<b>/var/www/html/wp-content/plugins/feed-tweaks/feed-tweaks.php</b> on line <b>37</b><br />\n"
)
ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>]")
ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")


def variants(outdir, path):
    with open(path, "rb") as file:
        data = file.read()
    stem, ext = os.path.splitext(os.path.basename(path))
    rng = random.Random(f"tributary liberal variants: {stem}{ext}")
    made = []

    def write(kind, body):
        target = os.path.join(outdir, f"{stem}.{kind}{ext}")
        with open(target, "wb") as file:
            file.write(body)
        made.append(target)

    # Cut somewhere between the first entry's start and the last entry's end, where a cut
    # loses part of an entry (a cut in the channel header would leave nothing to compare).
    first = ENTRY_START.search(data)
    ends = list(ENTRY_END.finditer(data))
    low = first.start() + 1 if first else len(data) // 4
    high = ends[-1].end() - 1 if ends else len(data) - 1
    for n, cut in enumerate(sorted(rng.sample(range(low, high), 3)), start=1):
        write(f"cut_{n}", data[:cut])

    if b"&amp;" in data:
        write("amp", data.replace(b"&amp;", b"&"))
    else:
        print(f"{path}: no &amp; to turn into a bare &", file=sys.stderr)

    match = XML_DECLARATION.match(data)
    utf8 = match is None or match.group(1).lower() in (b"utf-8", b"utf8")
    kinds = ["php", "bom", "comment"] if utf8 else ["php", "comment"]
    junk = {
        "php": PHP_NOTICE,
        "bom": b"\xef\xbb\xbf\n\n",
        "comment": b"\n\n<!-- generated -->",
    }[rng.choice(kinds)]
    write("junk", junk + data)
    return made


def main(args):
    if args[:1] == ["--variants"]:
        if len(args) < 3:
            sys.exit("usage: feedparser_view.py --variants OUTDIR FILE...")
        outdir = args[1]
        for path in args[2:]:
            if not path.endswith((".xml", ".rdf", ".atom", ".rss")):
                continue
            for made in variants(outdir, path):
                print(made)
        return
    if not args:
        sys.exit("usage: feedparser_view.py FILE... | --variants OUTDIR FILE...")
    json.dump({path: view(path) for path in args}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
