#!/usr/bin/env python3
"""For each held-out page: ask `tributary suggest --json` (over loopback) for candidates, run the
TOP html candidate's recipe through the daemon (`tributary once --out`), read feed.json, and
compare its (title, link) pairs with NAME.expected.json. Links are served from
http://127.0.0.1:PORT/<page_url path>; the loopback origin is mapped back to page_url's origin.
With --check, the hand-written recipe from NAME.expected.json is run instead (validates the
expected entries against the daemon's own reader)."""
import glob, json, os, subprocess, sys, tempfile
from urllib.parse import urlsplit

BIN = os.environ.get("TRIBUTARY", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../target/debug/tributary"))
HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(sys.argv[1]); CHECK = "--check" in sys.argv
LOOP = f"http://127.0.0.1:{PORT}"

def yq(s):
    return json.dumps(s)  # JSON strings are valid YAML scalars

def run_recipe(url, recipe, work):
    cfg = os.path.join(work, "config.yaml")
    lines = ["feed:", '  title: "heldout"', '  base_url: "http://127.0.0.1:9"', "  max_entries: 1000",
             "storage:", f"  path: {yq(os.path.join(work, 'db.sqlite'))}",
             "sources:", '  - name: "page"', f"    url: {yq(url)}", "    html:"]
    lines += [f"      {k}: {yq(v)}" for k, v in recipe]
    open(cfg, "w").write("\n".join(lines) + "\n")
    out = os.path.join(work, "out")
    p = subprocess.run([BIN, "--config", cfg, "once", "--out", out], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(os.path.join(out, "feed.json")):
        return None, (p.stdout + p.stderr)[-800:]
    feed = json.load(open(os.path.join(out, "feed.json")))
    return [(i.get("title") or "", i.get("url") or "", i.get("date_published")) for i in feed["items"]], ""

rows, tot = [], dict(hit=0, got=0, want=0, right=0, pages=0)
for exp in sorted(glob.glob(os.path.join(HERE, "*.expected.json"))):
    name = os.path.basename(exp)[:-len(".expected.json")]
    e = json.load(open(exp))
    u = urlsplit(e["page_url"]); origin = f"{u.scheme}://{u.netloc}"
    url = LOOP + u.path + ("?" + u.query if u.query else "")
    want = {(x["title"], x["link"]) for x in e["entries"]}
    if CHECK:
        recipe = list(e["recipe"].items())
    else:
        p = subprocess.run([BIN, "suggest", "--json", url], capture_output=True, text=True)
        try:
            cands = [c for c in json.loads(p.stdout) if c.get("kind") == "html"]
        except Exception:
            cands = []
        if not cands:
            rows.append((name, 0.0, 0.0, False, "-", "(no suggestion) " + p.stderr.strip()[:200])); tot["want"] += len(want); tot["pages"] += 1
            continue
        recipe = [tuple(kv) for kv in cands[0]["recipe"]]
    with tempfile.TemporaryDirectory() as work:
        items, err = run_recipe(url, recipe, work)
    if items is None:
        got = set(); note = "once failed: " + err.strip().replace("\n", " ")[:200]
    else:
        fix = lambda l: origin + l[len(LOOP):] if l.startswith(LOOP) else l
        got = {(t, fix(l)) for t, l, _d in items}
        dated = {(t, fix(l)): d for t, l, d in items}
        note = ""
    hit = len(got & want)
    # secondary: dates, only where the page states one (expected date not null)
    wd = [(x["title"], x["link"], x["date"]) for x in e["entries"] if x["date"]]
    dok = sum(1 for t, l, d in wd if items is not None and dated.get((t, l)) == d)
    tot["dok"] = tot.get("dok", 0) + dok; tot["dwant"] = tot.get("dwant", 0) + len(wd)
    P = hit / max(len(got), 1); R = hit / max(len(want), 1)
    right = got == want
    tot["hit"] += hit; tot["got"] += len(got); tot["want"] += len(want); tot["right"] += right; tot["pages"] += 1
    rstr = ", ".join(f"{k}: {v}" for k, v in recipe)
    rows.append((name, P, R, right, f"{dok}/{len(wd)}", rstr + (("  ! " + note) if note else "")))
    if "-v" in sys.argv and not right:
        for x in sorted(got - want)[:8]: print(f"  {name} extra  : {x}")
        for x in sorted(want - got)[:8]: print(f"  {name} missing: {x}")

print("| page | P | R | exactly right | dates right | " + ("hand" if CHECK else "top") + " recipe |")
print("|---|---:|---:|:---:|:---:|---|")
for n, P, R, ok, dd, r in rows:
    print(f"| {n} | {P:.2f} | {R:.2f} | {'yes' if ok else 'no'} | {dd} | `{r}` |")
print(f"\noverall: P {tot['hit']/max(tot['got'],1):.3f}  R {tot['hit']/max(tot['want'],1):.3f}  "
      f"exactly right {tot['right']} of {tot['pages']}, dates right {tot.get('dok',0)} of {tot.get('dwant',0)}  ({tot['hit']} correct of {tot['got']} produced, {tot['want']} expected)")
