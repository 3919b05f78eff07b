#!/usr/bin/env bash
# Interop for the streaming suites against real servers from Debian packages, on loopback,
# started and stopped by PID through ci/interop/servers.sh:
#   - nginx + nchan (libnginx-mod-nchan) with a publisher: scenarios/sse passes on its
#     EventSource endpoint; two deliberately misconfigured locations fail with the reason
#     (text/plain stream; a buffering proxy that holds events back);
#   - python3-websockets and node-ws echo servers: scenarios/websocket passes on both (they
#     are known Autobahn-compliant).
# Prints "N passed, N failed"; exits 1 when anything failed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMET=${COMET:-build/comet}
# shellcheck source=ci/interop/servers.sh
. "$HERE/interop/servers.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -f "$D/out" ] && sed 's/^/     | /' "$D/out" | tail -25
    return 0
}

D=$(mktemp -d)
chmod 755 "$D" # nginx's workers run as another user when started by root
cleanup() {
    servers_stop "$D" >/dev/null 2>&1 || true
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start KIND [ARGS...]: prints the port the server listens on
start() {
    local kind=$1 started
    shift
    started=$(servers_start_free "$kind" "$D" "$@" 2>/dev/null) || { cat "$D/start.err" >&2; return 1; }
    set -- $started
    echo "$3"
}

# run_comet NAME WANT_EXIT [ENV=VALUE...] -- ARGS...: comet's output in $D/out
run_comet() {
    local name=$1 want=$2 got=0
    shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$COMET" run "$@" --no-color -j 4 >"$D/out" 2>&1 || got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else echo "     exit $got, expected $want"; bad "$name"; fi
}

expect_case() { # NAME CASE REASON: CASE did not pass and its reason lines match REASON
    if grep -A4 "^[A-Z-]*  [a-z]* › $2" "$D/out" | grep -q -- "$3" &&
       ! grep -q "^PASS  [a-z]* › $2" "$D/out"; then ok "$1"; else bad "$1"; fi
}

# --- nginx + nchan ------------------------------------------------------------------------
if NCHAN=$(start nchan); then
    ok "nginx + nchan started on 127.0.0.1:$NCHAN"
    servers_start publisher "$NCHAN" "$D" demo 100 >/dev/null && ok "publisher started (seq N every 100 ms)" ||
        bad "publisher did not start"
    NCHAN_URL=http://127.0.0.1:$NCHAN
    # nchan sends no retry field: Chromium's 3 s default applies (graded non-strict)
    run_comet "SSE suite passes on nchan's /sub (exit 0)" 0 SSE_STREAM=/sub/demo -- \
        scenarios/sse --target "$NCHAN_URL"
    if grep -q "^FAIL\|^ERROR" "$D/out"; then bad "no case fails on nchan"; else ok "no case fails on nchan"; fi
    expect_case "nchan sends no retry: graded non-strict with the delay" \
        "the server's retry field" "reconnect_delay.*3000 ms"
    run_comet "SSE suite with SSE_RETRY_MAX=4s: every case passes on nchan" 0 \
        SSE_STREAM=/sub/demo SSE_RETRY_MAX=4s -- scenarios/sse --target "$NCHAN_URL" --strict
    run_comet "a text/plain location fails the suite" 1 SSE_STREAM=/bad-type/demo -- \
        scenarios/sse --target "$NCHAN_URL"
    expect_case "... on the MIME type, naming it" "the stream is text/event-stream" \
        'observed "text/plain; charset=utf-8"'
    run_comet "a buffering proxy fails the suite" 1 SSE_STREAM=/buffered/demo -- \
        scenarios/sse --target "$NCHAN_URL"
    expect_case "... on the first-event bound" "the first event arrives without buffering" \
        "first_message.*none came"
else
    bad "nginx + nchan did not start"
fi

# --- WebSocket echo servers ----------------------------------------------------------------
for kind in ws-python ws-node; do
    if PORT=$(start "$kind"); then
        ok "$kind echo server started on 127.0.0.1:$PORT"
        run_comet "WebSocket suite passes on $kind (strict)" 0 -- \
            scenarios/websocket --target "ws://127.0.0.1:$PORT/" --strict
    else
        bad "$kind did not start"
    fi
done

servers_stop "$D" >/dev/null 2>&1 && ok "every server stopped by its PID" || bad "a server did not stop"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
