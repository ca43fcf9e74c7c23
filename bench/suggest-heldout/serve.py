#!/usr/bin/env python3
"""Serves each held-out page on loopback at the path (and query) of its page_url, as text/html.
Usage: serve.py PORT  (prints nothing; stop it by its pid)."""
import glob, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTES = {}
for exp in glob.glob(os.path.join(HERE, "*.expected.json")):
    u = urlsplit(json.load(open(exp))["page_url"])
    ROUTES[u.path + ("?" + u.query if u.query else "")] = exp.replace(".expected.json", ".html")

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        f = ROUTES.get(self.path)
        if not f:
            self.send_error(404); return
        body = open(f, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
