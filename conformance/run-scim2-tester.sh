#!/usr/bin/env bash
# Runs scim2-tester against a freshly started rollcall binary (default: the release
# build) on an embedded SQLite database in a temporary directory.
# Usage: conformance/run-scim2-tester.sh [PATH_TO_ROLLCALL]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/rollcall}"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$data/server.log"

"$bin" --data-dir "$data" org create "scim2-tester" >/dev/null
token="$("$bin" --data-dir "$data" token create --org "scim2-tester" --label scim2-tester)"
"$bin" --data-dir "$data" serve --listen "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT

for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
if ! bash conformance/scim2-tester.sh "http://127.0.0.1:$port/scim/v2" "$token"; then
    echo "--- server log ---"
    tail -n 50 "$log"
    exit 1
fi
