#!/usr/bin/env bash
# Self-test of the interop servers (not of comet): starts nginx + nchan, a publisher, the
# python3-websockets and the node-ws echo servers on free loopback ports in a temporary
# directory with ci/interop/servers.sh, checks them with ci/interop/check.py, stops them by
# PID and checks that none is left. Prints "N passed, N failed"; exits 1 when anything failed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ci/interop/servers.sh
. "$HERE/servers.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

D=$(mktemp -d)
chmod 755 "$D"
cleanup() {
    servers_stop "$D" || true
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_on_free_port VAR KIND [ARGS...]: sets VAR to the port the server listens on.
start_on_free_port() {
    local var=$1 kind=$2 started
    shift 2
    if started=$(servers_start_free "$kind" "$D" "$@"); then
        set -- $started
        printf -v "$var" '%s' "$3"
        ok "$kind started on 127.0.0.1:$3 (pid $2)"
        return 0
    fi
    bad "$kind did not start"
    return 1
}

# run_checks TITLE CMD...: counts the ok/FAIL lines that check.py prints
run_checks() {
    local title=$1 line rc=0
    shift
    "$@" >"$D/check.out" 2>&1 || rc=$?
    while IFS= read -r line; do
        case $line in
        "ok   "*) ok "${line#ok   }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        *) echo "     | $line" ;;
        esac
    done <"$D/check.out"
    if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$D/check.out"; then
        bad "$title: check.py exited $rc"
    fi
}

CHANNEL=selftest$$
NCHAN_PORT=
if start_on_free_port NCHAN_PORT nchan; then
    echo "     nginx $("$SERVERS_NGINX" -v 2>&1 | sed 's/.*nginx\///') + nchan on 127.0.0.1:$NCHAN_PORT"
    if servers_start publisher "$NCHAN_PORT" "$D" "$CHANNEL" 50 120 >/dev/null; then
        ok "publisher sends seq N to /pub/$CHANNEL every 50 ms"
        run_checks sse "$SERVERS_PYTHON" "$HERE/check.py" sse "$NCHAN_PORT" "$CHANNEL"
    else
        bad "publisher did not start"
    fi
fi
WSP_PORT=
if start_on_free_port WSP_PORT ws-python; then
    run_checks ws-python "$SERVERS_PYTHON" "$HERE/check.py" ws "$WSP_PORT"
fi
WSN_PORT=
if start_on_free_port WSN_PORT ws-node; then
    run_checks ws-node "$SERVERS_PYTHON" "$HERE/check.py" ws "$WSN_PORT"
fi

# Stop: every PID goes, its port is free again, and nothing is left in DIR's pid files.
pids=$(cat "$D"/*.pid 2>/dev/null || true)
servers_status "$D" | sed 's/^/     /'
servers_stop "$D"
left=""
for pid in $pids; do
    if _servers_alive "$pid"; then left="$left $pid"; fi
done
if [ -z "$left" ] && ! ls "$D"/*.pid >/dev/null 2>&1; then
    ok "stop: all $(echo "$pids" | wc -w) processes gone"
else
    bad "stop: still running:$left"
fi
for port in $NCHAN_PORT $WSP_PORT $WSN_PORT; do
    if "$SERVERS_PYTHON" -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
        ok "stop: port $port is free"
    else
        bad "stop: port $port is still taken"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
