#!/usr/bin/env bash
# Runs scim2-tester against a freshly started rollcall binary (default: the release
# build) on an embedded SQLite database in a temporary directory.
# Usage: conformance/run-scim2-tester.sh [PATH_TO_ROLLCALL]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/rollcall}"
# shellcheck source=conformance/serve.sh
. conformance/serve.sh
fresh_data_dir

"$bin" --data-dir "$data" org create "scim2-tester" >/dev/null
token="$("$bin" --data-dir "$data" token create --org "scim2-tester" --label scim2-tester)"
serve_rollcall "$bin"

if ! bash conformance/scim2-tester.sh "$base/scim/v2" "$token"; then
    echo "--- server log ---"
    tail -n 50 "$log"
    exit 1
fi
