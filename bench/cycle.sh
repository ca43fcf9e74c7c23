#!/usr/bin/env bash
# One full poll cycle (fetch, parse, normalize, dedup, store, render) of N synthetic sources.
#
#   bench/cycle.sh SOURCES [ENTRIES]     (default 50 entries per source; needs nginx, python3)
#
# Generates SOURCES feeds (bench/generate.py), serves them with nginx on 127.0.0.1, and runs
# `tributary once` three times on one fresh store: from empty; with every source answering 304
# (ETags on); and with every source answering 200 with the same bytes (the stored validators
# wiped, as if the server sent none), where every entry is known by its bytes. Prints wall
# time, CPU time, peak RSS and bytes written to disk (the WAL, then the database file at each
# checkpoint) of each run. Then the daemon starts on that store (its start-up polls all answer
# 304) and idles: RSS and CPU time over IDLE_SECONDS (default 30).
#
# The store is made in a new folder inside STORE_DIR (default: beside the feeds, under TMPDIR),
# so that a store on another disk or on tmpfs (STORE_DIR=/dev/shm) can be compared.
#
# With STORE_URL=postgres://… the store is that PostgreSQL database instead (give it an empty
# one; needs psql), and "written" counts only what the daemon's process wrote itself.
set -euo pipefail

sources=${1:?usage: bench/cycle.sh SOURCES [ENTRIES]}
entries=${2:-50}
idle_seconds=${IDLE_SECONDS:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as another user when started by root
run_dir=$(mktemp -d "${STORE_DIR:-$work}/tributary-cycle.XXXXXX")
nginx_pid=""
daemon_pid=""
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work" "$run_dir"
}
trap cleanup EXIT

for tool in nginx python3; do
    command -v "$tool" >/dev/null || { echo "bench/cycle.sh: $tool is not installed" >&2; exit 1; }
done
(cd "$root" && cargo build --release --quiet)

python3 "$root/bench/generate.py" "$work/www" "$sources" "$entries"
bytes=$(du -sb "$work/www" | cut -f1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)
mkdir -p "$work/tmp"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/tmp;
    proxy_temp_path $work/tmp;
    fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp;
    scgi_temp_path $work/tmp;
    types { application/rss+xml xml; }
    server { listen 127.0.0.1:$port; root $work/www; }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/feed00000.xml" && break
    sleep 0.1
done

mkdir -p "$run_dir/seeds"
write_config() { # PORT
  {
    printf 'feed:\n  max_entries: 100\nstorage:\n  path: "tributary.db"\n'
    [ -n "${STORE_URL:-}" ] && printf '  url: "%s"\n' "$STORE_URL"
    printf 'server:\n  listen: "127.0.0.1:%s"\n' "$http_port"
    printf 'schedule: "0 0 1 1 *"\nseeds:\n  dir: "seeds"\n'
    # One host serves every feed here: the per-host limit would make this a test of it.
    printf 'fetch:\n  jitter: 0s\n  min_interval: 0s\n  max_per_host: 16\n  max_concurrent: 16\n'
    printf 'sources:\n'
    for n in $(seq 0 $((sources - 1))); do
        printf '  - name: "s%05d"\n    url: "http://127.0.0.1:%s/feed%05d.xml"\n' "$n" "$1" "$n"
    done
  } > "$run_dir/config.yaml"
}

run() { # LABEL
    /usr/bin/time -f '%e %U %S %M %O' -o "$work/time" \
        "$root/target/release/tributary" --config "$run_dir/config.yaml" once \
        >/dev/null 2>"$work/log" || { tail -5 "$work/log" >&2; exit 1; }
    read -r seconds user system kilobytes blocks < "$work/time"
    cpu=$(awk "BEGIN { print $user + $system }")
    printf '| %7d | %-12s | %8.2f s | %8.2f s | %6d MB | %7d MB |\n' \
        "$sources" "$1" "$seconds" "$cpu" "$((kilobytes / 1024))" "$((blocks / 2048))"
}
echo "$sources sources x $entries entries, $((bytes / 1024 / 1024)) MB of feed XML"
echo "| sources | cycle        |       time |   CPU time |  peak RSS |   written |"
echo "|--------:|--------------|-----------:|-----------:|----------:|----------:|"
write_config "$port"
run "empty store"
run "all 304"
store_sql() { # SQL: runs it on the store, prints the first column of the first row
    if [ -n "${STORE_URL:-}" ]; then
        psql "$STORE_URL" -qAtc "$1"
    else
        python3 -c 'import sqlite3, sys
store = sqlite3.connect(sys.argv[1])
row = store.execute(sys.argv[2]).fetchone()
store.commit()
print(row[0] if row else "")' "$run_dir/tributary.db" "$1"
    fi
}
store_sql "UPDATE source_state SET etag = NULL, last_modified = NULL" >/dev/null
run "200s, same"

# The daemon on the same store, idle once its start-up polls are done.
"$root/target/release/tributary" --config "$run_dir/config.yaml" >/dev/null 2>"$work/daemon.log" &
daemon_pid=$!
polls_done() {
    curl -fs "http://127.0.0.1:$http_port/metrics" 2>/dev/null |
        awk '/^tributary_polls_total/ { n += $NF } END { print n + 0 }'
}
for _ in $(seq 1 600); do
    [ "$(polls_done)" -ge "$sources" ] && break
    sleep 0.1
done
sleep 2
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
before=$(cpu_ticks)
sleep "$idle_seconds"
after=$(cpu_ticks)
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status")
kill "$daemon_pid"
wait "$daemon_pid" || true
stored=$(store_sql "SELECT COUNT(*) FROM entries")
awk -v sources="$sources" -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" \
    -v seconds="$idle_seconds" -v rss="$rss_kb" -v stored="$stored" 'BEGIN {
    printf "| %7d | idle, %ds     | CPU %.2f s (%.2f%% of a core) | RSS %d MB | %d entries stored |\n",
        sources, seconds, ticks / hz, 100 * ticks / hz / seconds, rss / 1024, stored
}'
