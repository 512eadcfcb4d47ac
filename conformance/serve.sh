# Sourced by the conformance runners (run-scim2-tester.sh, run-schemathesis.sh): a rollcall
# binary on a fresh embedded database in a temporary directory, on a free loopback port.
#
#   fresh_data_dir           sets $data, $port, $base and $log
#   serve_rollcall BIN       starts `BIN serve` in the background and waits until it answers;
#                            on exit the server is stopped and $data removed

fresh_data_dir() {
    data="$(mktemp -d)"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    log="$data/server.log"
}

serve_rollcall() {
    "$1" --data-dir "$data" serve --listen "127.0.0.1:$port" >"$log" 2>&1 &
    server=$!
    trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
    for _ in $(seq 1 100); do
        curl -fsS "$base/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
}
