#!/usr/bin/env bash
# Serving speed of /feed.atom against nginx serving the same bytes, in one run.
#
#   bench/http.sh [SECONDS [POLLING_SOURCES [RUNS]]]   (default 10, 0, 1)
#   TRIBUTARY_BIN=path bench/http.sh ...               (another build than target/release's)
#
# Needs wrk, nginx, python3, curl. Starts a loopback origin with a 200-item RSS feed of 3-4 KB
# per item (the merged /feed.atom is 700-800 KB: checked), the release binary polling it, and
# nginx with the very bytes tributary serves (plain, and the same gzip body for `gzip_static`).
# Then `wrk -t2 -c64 -dSECONDS --latency` on each of three paths, tributary and nginx alternately:
#   plain  GET /feed.atom
#   gzip   GET /feed.atom with Accept-Encoding: gzip
#   304    GET /feed.atom with If-None-Match: <that server's ETag>
# and prints requests/s and p99 latency with tributary's share of nginx's, and the CPU time
# (user and system, from /proc) each server spent per request: unlike requests/s, that hardly
# depends on what else runs on the machine. With RUNS above 1,
# each path is measured RUNS times, still alternating, and a row of the medians follows the
# runs. The load average before the rows is printed: on a shared machine, a run that started
# busy is noise (the rows themselves keep about 4 threads busy).
#
# With POLLING_SOURCES, that many synthetic feeds (bench/generate.py, served by the same nginx)
# are added to tributary's config just before the first row: tributary polls all of them from
# an empty store while it is measured. Their entries are older than the origin's, so the
# measured /feed.atom keeps its bytes. The polls finished before and after the rows are printed,
# to show the cycle ran throughout. Nothing is written outside a temp dir.
set -euo pipefail

seconds=${1:-10}
polling_sources=${2:-0}
runs=${3:-1}
entries=200
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as another user when started by root
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk nginx python3 curl; do
    command -v "$tool" >/dev/null || { echo "bench/http.sh: $tool is not installed (apt-get install wrk nginx-light)" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # URL: until it answers 200
    for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "bench/http.sh: $1 never answered" >&2; exit 1
}

if [ -n "${TRIBUTARY_BIN:-}" ]; then
    binary=$(realpath "$TRIBUTARY_BIN")
else
    (cd "$root" && cargo build --release --quiet)
    binary="$root/target/release/tributary"
fi

# The origin: a feed of $entries items of 11 to 14 paragraphs of HTML each (3-4 KB), like a
# blog that publishes whole articles.
mkdir -p "$work/origin"
python3 - "$entries" > "$work/origin/feed.xml" <<'PY'
import random, sys
from email.utils import formatdate
n = int(sys.argv[1])
words = ("feed reader cache poll origin entry source merge river planet atom channel item "
         "server client header request answer byte hash store index link title date author "
         "summary content tag slice schedule minute hour day week").split()
random.seed(6)
def paragraph():
    return " ".join(random.choice(words) for _ in range(40)).capitalize() + "."
print('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
      '<title>Bench origin</title><link>http://origin.test/</link><description>bench</description>')
for i in range(n):
    body = "".join("&lt;p&gt;%s&lt;/p&gt;" % paragraph() for _ in range(random.randint(11, 14)))
    print('<item><title>Post number %d</title><link>http://origin.test/posts/%d</link>'
          '<guid>http://origin.test/posts/%d</guid><pubDate>%s</pubDate>'
          '<description>%s</description></item>'
          % (i, i, i, formatdate(1_780_000_000 + i * 3600, usegmt=True), body))
print('</channel></rss>')
PY
origin_port=$(free_port)
python3 -m http.server "$origin_port" --bind 127.0.0.1 --directory "$work/origin" >/dev/null 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$origin_port/feed.xml"

# tributary on that one source; the entry count is checked, not assumed.
port=$(free_port)
mkdir -p "$work/tributary/seeds"
cat > "$work/tributary/config.yaml" <<YAML
feed:
  title: "Bench"
  base_url: "http://127.0.0.1:$port"
  max_entries: $entries
server:
  listen: "127.0.0.1:$port"
storage:
  path: "tributary.db"
schedule: "0 0 1 1 *"
seeds:
  dir: "seeds"
fetch:
  jitter: 0s
  # With POLLING_SOURCES, one host serves them all: no per-host politeness in the way.
  min_interval: 0s
  max_per_host: 16
  max_concurrent: 16
sources:
  - name: "origin"
    url: "http://127.0.0.1:$origin_port/feed.xml"
YAML
RUST_LOG=warn "$binary" --config "$work/tributary/config.yaml" >"$work/tributary.log" 2>&1 &
pids+=($!)
tributary="http://127.0.0.1:$port/feed.atom"
published() { curl -fs "$tributary" | grep -o '<entry>' | wc -l; }
for _ in $(seq 1 300); do
    [ "$(published)" = "$entries" ] && break
    sleep 0.1
done
[ "$(published)" = "$entries" ] || { echo "bench/http.sh: tributary never published $entries entries" >&2; cat "$work/tributary.log" >&2; exit 1; }

# nginx with the same bytes: the plain body and tributary's own gzip body as feed.atom.gz.
mkdir -p "$work/nginx/www" "$work/nginx/tmp"
curl -fs "$tributary" -o "$work/nginx/www/feed.atom"
curl -fs -H 'Accept-Encoding: gzip' "$tributary" -o "$work/nginx/www/feed.atom.gz"
size=$(stat -c %s "$work/nginx/www/feed.atom")
[ "$size" -ge 700000 ] && [ "$size" -le 800000 ] ||
    { echo "bench/http.sh: /feed.atom is $size bytes, not the 700-800 KB of issue #28" >&2; exit 1; }
nginx_port=$(free_port)
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp;
    proxy_temp_path $work/nginx/tmp;
    fastcgi_temp_path $work/nginx/tmp;
    uwsgi_temp_path $work/nginx/tmp;
    scgi_temp_path $work/nginx/tmp;
    sendfile on;
    tcp_nopush on;
    types { application/atom+xml atom; }
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/nginx/www;
        gzip_static on;
    }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx="http://127.0.0.1:$nginx_port/feed.atom"
wait_for "$nginx"

etag_of() { curl -fsI "$1" | tr -d '\r' | awk 'tolower($1)=="etag:" {print $2}'; }
tributary_etag=$(etag_of "$tributary")
nginx_etag=$(etag_of "$nginx")

# Both must answer each case as intended before anything is timed.
expect() { # LABEL STATUS ENCODING URL [HEADER]
    local got
    got=$(curl -s -o /dev/null -w '%{http_code} %header{content-encoding}' ${5:+-H "$5"} "$4")
    [ "$got" = "$2 $3" ] || [ "$got" = "$2 " -a -z "$3" ] || { echo "bench/http.sh: $1 answered '$got', expected '$2 $3'" >&2; exit 1; }
}
expect "tributary plain" 200 "" "$tributary"
expect "nginx plain" 200 "" "$nginx"
expect "tributary gzip" 200 gzip "$tributary" "Accept-Encoding: gzip"
expect "nginx gzip" 200 gzip "$nginx" "Accept-Encoding: gzip"
expect "tributary 304" 304 "" "$tributary" "If-None-Match: $tributary_etag"
expect "nginx 304" 304 "" "$nginx" "If-None-Match: $nginx_etag"

cpu_ticks() { # PID... -> user + system CPU time of those processes, in clock ticks
    for pid in "$@"; do cut -d' ' -f14,15 "/proc/$pid/stat"; done | awk '{ t += $1 + $2 } END { print t }'
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
measure() { # URL HEADER PID... -> "requests/s p99-in-ms CPU-us-per-request" (CPU of the PIDs)
    local url=$1 header=$2 before wrk_figures after
    shift 2
    before=$(cpu_ticks "$@")
    wrk_figures=$(wrk -t2 -c64 -d"${seconds}s" --latency ${header:+-H "$header"} "$url" | awk '
        function ms(value) {
            if (value ~ /us$/) return value / 1000
            if (value ~ /ms$/) return value + 0
            return value * 1000
        }
        / requests in / { requests = $1 }
        /^ +99%/ { p99 = ms($2) }
        /^Requests\/sec:/ { rate = $2 }
        END { print rate, p99, requests }')
    after=$(cpu_ticks "$@")
    awk -v figures="$wrk_figures" -v ticks=$((after - before)) -v tick_us="$tick_us" 'BEGIN {
        split(figures, f, " "); printf "%s %s %.1f\n", f[1], f[2], ticks * tick_us / f[3]
    }'
}
print_row() { # LABEL "OURS_RATE OURS_P99 OURS_CPU" "NGINX_RATE NGINX_P99 NGINX_CPU"
    awk -v label="$1" -v ours="$2" -v theirs="$3" 'BEGIN {
        split(ours, o, " "); split(theirs, t, " ")
        printf "| %-10s | %9.0f | %9.0f | %4.0f%% | %8.2f | %8.2f | %5.2f | %6.1f | %6.1f |\n",
            label, o[1], t[1], 100 * o[1] / t[1], o[2], t[2], o[2] / t[2], o[3], t[3]
    }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
medians() { # lines of "A B C" -> "median(A) median(B) median(C)"
    local lines=$1
    echo "$(cut -d' ' -f1 <<<"$lines" | median) $(cut -d' ' -f2 <<<"$lines" | median) $(cut -d' ' -f3 <<<"$lines" | median)"
}
row() { # LABEL TRIBUTARY_HEADER NGINX_HEADER
    local ours theirs all_ours="" all_theirs=""
    for run in $(seq 1 "$runs"); do
        ours=$(measure "$tributary" "$2" "${pids[1]}")
        theirs=$(measure "$nginx" "$3" $(pgrep -P "$(cat "$work/nginx/nginx.pid")"))
        all_ours+="${all_ours:+$'\n'}$ours"
        all_theirs+="${all_theirs:+$'\n'}$theirs"
        if [ "$runs" -gt 1 ]; then print_row "$1 #$run" "$ours" "$theirs"; fi
    done
    if [ "$runs" -gt 1 ]; then
        print_row "$1 med." "$(medians "$all_ours")" "$(medians "$all_theirs")"
    else
        print_row "$1" "$ours" "$theirs"
    fi
}
polls_done() {
    curl -fs "http://127.0.0.1:$port/metrics" |
        awk '/^tributary_polls_total/ && !/source="(origin|seeds)"/ { n += $NF } END { print n + 0 }'
}

if [ "$polling_sources" -gt 0 ]; then
    python3 "$root/bench/generate.py" "$work/nginx/www/poll" "$polling_sources" >/dev/null
    for n in $(seq 0 $((polling_sources - 1))); do
        printf '  - name: "s%05d"\n    url: "http://127.0.0.1:%s/poll/feed%05d.xml"\n' "$n" "$nginx_port" "$n"
    done >> "$work/tributary/config.yaml"
    for _ in $(seq 1 100); do [ "$(polls_done)" -gt 0 ] && break; sleep 0.1; done
    echo "while polling $polling_sources sources from an empty store: $(polls_done) polls done before the first row"
fi

echo "$entries entries: /feed.atom $size bytes, gzip $(stat -c %s "$work/nginx/www/feed.atom.gz") bytes; wrk -t2 -c64 -d${seconds}s"
echo "$(nproc) cores: $(pgrep -c -P "$(cat "$work/nginx/nginx.pid")") nginx workers, as many tokio workers in tributary"
echo "load average before the rows: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| path       |  ours r/s | nginx r/s | share | ours p99 ms | nginx p99 ms | p99 ratio | ours CPU µs/req | nginx CPU µs/req |"
echo "|------------|----------:|----------:|------:|------------:|-------------:|----------:|----------------:|-----------------:|"
row plain "" ""
row gzip "Accept-Encoding: gzip" "Accept-Encoding: gzip"
row 304 "If-None-Match: $tributary_etag" "If-None-Match: $nginx_etag"
if [ "$polling_sources" -gt 0 ]; then
    echo "polls done after the last row: $(polls_done) of $polling_sources"
    [ "$(curl -fs "$tributary" | md5sum)" = "$(md5sum < "$work/nginx/www/feed.atom")" ] ||
        echo "bench/http.sh: /feed.atom changed while polling; the rows compare different bytes" >&2
fi
