#!/usr/bin/env bash
# Article extraction (full_text) on the article-extraction benchmark's pages.
#
#   bench/extraction.sh [DATA]     (default DATA: ../shared/bench-data/article-extraction)
#
# DATA holds html/<key>.html.gz and truth.json, and the scorer is score_extraction.py from
# ../shared/tools: it runs `tributary extract FILE --url URL --json` on every page and scores the
# text as the benchmark does. Prints the F1 of tributary and of the raw page text (every text
# node outside script, style and head: the baseline), then the CPU time of one `tributary
# extract` process per page (start-up included), pages per second per core, and the largest
# peak RSS. Builds the release binary first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/bench-data/article-extraction}
scorer=$root/../shared/tools/score_extraction.py
binary=$root/target/release/tributary
(cd "$root" && cargo build --release --quiet)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== tributary extract"
python3 "$scorer" --bin "$binary" --data "$data" --show 0

echo "== raw page text"
python3 - "$data" "$work/raw.json" <<'PY'
import gzip, html.parser, json, pathlib, sys
data, out = pathlib.Path(sys.argv[1]), sys.argv[2]

class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0
    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "head", "noscript")
    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "head", "noscript") and self.skip > 0
    def handle_data(self, text):
        if not self.skip:
            self.parts.append(text)

predictions = {}
for page in sorted((data / "html").glob("*.html.gz")):
    reader = Text()
    reader.feed(gzip.decompress(page.read_bytes()).decode("utf-8", "replace"))
    predictions[page.name[: -len(".html.gz")]] = {"articleBody": " ".join(reader.parts)}
json.dump(predictions, open(out, "w"))
PY
python3 "$scorer" --predictions "$work/raw.json" --data "$data" --show 0

echo "== speed and memory, one process per page"
total_seconds=0
peak_kb=0
pages=0
truth=$data/truth.json
for page in "$data"/html/*.html.gz; do
  key=$(basename "$page" .html.gz)
  gunzip -c "$page" > "$work/page.html"
  url=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]['url'])" "$truth" "$key")
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$binary" extract "$work/page.html" --url "$url" --json > /dev/null || true
  read -r user system kb < "$work/time"
  total_seconds=$(python3 -c "print($total_seconds + $user + $system)")
  peak_kb=$(( kb > peak_kb ? kb : peak_kb ))
  pages=$((pages + 1))
done
python3 -c "
pages, seconds, peak = $pages, $total_seconds, $peak_kb
print(f'{pages} pages, CPU {seconds:.2f} s: {pages / seconds:.0f} pages/s per core; peak RSS {peak / 1024:.0f} MB')"
