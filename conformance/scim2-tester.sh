#!/usr/bin/env bash
# Runs the external SCIM 2.0 compliance tester scim2-tester (through the
# `scim2 test` command of the PyPI package scim2-cli) against a live server.
#
#   conformance/scim2-tester.sh BASE_URL TOKEN
#   conformance/scim2-tester.sh http://127.0.0.1:8080/scim/v2 "$ROLLCALL_TOKEN"
#
# The tester's own Python environment lives in ${ROLLCALL_VENV:-.venv}; it is
# created and the pinned packages installed on first use, reused after that.
# The token reaches the tester through SCIM_CLI_HEADERS, never the command
# line, so other users of the machine cannot read it from the process list.
#
# Exit status: 0 when no check ended in ERROR or CRITICAL, 1 when one did, 2 on
# bad usage or when the tester could not run at all (server not reachable,
# discovery failed). SKIPPED checks are reported and tolerated; with
# SCIM2_TESTER_STRICT=1 anything other than SUCCESS fails, which is the rule
# `scim2 test` applies to its own exit code.
set -euo pipefail

# Pinned together: scim2-cli only sets lower bounds on its dependencies, and the
# checks live in scim2-tester, so an unpinned install would change the test set.
SCIM2_PACKAGES=(scim2-cli==0.6.0 scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3)

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: $0 BASE_URL TOKEN   (e.g. http://127.0.0.1:8080/scim/v2)" >&2
    exit 2
fi
base_url=$1
token=$2
venv=${ROLLCALL_VENV:-.venv}
stamp="$venv/.rollcall-scim2-tester"
wanted="${SCIM2_PACKAGES[*]}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${SCIM2_PACKAGES[@]}"
    printf '%s\n' "$wanted" > "$stamp"
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT

echo "scim2-tester (${SCIM2_PACKAGES[0]}) against $base_url"
set +e
# Through the venv's python: the script's #! names the path the venv was made at.
SCIM_CLI_HEADERS="Authorization: Bearer $token" NO_COLOR=1 \
    "$venv/bin/python" "$venv/bin/scim2" --url "$base_url" test --verbose >"$report" 2>&1
tester_status=$?
set -e
# The report may carry ANSI colours; strip them so the statuses can be counted.
sed -e 's/\x1b\[[0-9;]*m//g' "$report" >"$report.plain" && mv "$report.plain" "$report"
cat "$report"

# Each check prints one line "STATUS check_name", followed by indented detail.
count() { grep -cE "^$1 " "$report" || true; }
success=$(count SUCCESS)
skipped=$(count SKIPPED)
failed=$(grep -cE '^(ERROR|CRITICAL) ' "$report" || true)
other=$(grep -cE '^(COMPLIANT|ACCEPTABLE|DEVIATION) ' "$report" || true)

if [ "$success" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "scim2-tester did not run any check (exit status $tester_status); see the output above" >&2
    exit 2
fi

echo
echo "scim2-tester: $success passed, $failed failed, $skipped skipped"
[ "$other" -gt 0 ] && echo "($other checks ended COMPLIANT, ACCEPTABLE or DEVIATION: conformant with remarks)"

if [ "$failed" -gt 0 ]; then
    exit 1
fi
if [ "${SCIM2_TESTER_STRICT:-0}" = 1 ] && [ "$tester_status" -ne 0 ]; then
    echo "SCIM2_TESTER_STRICT=1: scim2 test exited $tester_status (some check did not end in SUCCESS)" >&2
    exit 1
fi
exit 0
