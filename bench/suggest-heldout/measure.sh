#!/usr/bin/env bash
# Pages written after the suggester, by someone who had not seen its code, in shapes unlike
# tests/fixtures/pages: how well the top suggestion does on pages it was not tuned on.
# Needs the debug binary (cargo build).
# Reproduces the held-out measurement. Usage: ./measure.sh [--check] [-v]
#   (no flag)  top `tributary suggest` recipe per page, read by `tributary once`, vs NAME.expected.json
#   --check    the hand-written recipes instead (validates the expected entries)
set -euo pipefail
cd "$(dirname "$0")"
PORT=${PORT:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
python3 serve.py "$PORT" & SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 50); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.1; done
python3 measure.py "$PORT" "$@"
