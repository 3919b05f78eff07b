#!/bin/sh
# Integration tests: build/comet against the fixture server over real sockets.
# Prints "N passed, N failed"; exits 1 when anything failed.
set -u
COMET=${COMET:-build/comet}
T=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -f "$T/out" ] && sed 's/^/     | /' "$T/out" | tail -20; }
# expect_exit CODE NAME CMD...: runs CMD, output in $T/out, checks the exit code
expect_exit() {
    want=$1; name=$2; shift 2
    "$@" >"$T/out" 2>&1
    got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else echo "     exit $got, expected $want"; bad "$name"; fi
}
expect_output() { # NAME PATTERN: grep in the last output
    if grep -q -- "$2" "$T/out"; then ok "$1"; else bad "$1 (no match for: $2)"; fi
}

# 1. the shipped suites pass against the embedded fixture, with valid JSON and JUnit
expect_exit 0 "shipped xhr suites pass on the embedded fixture" \
    "$COMET" run scenarios/xhr --json "$T/results.json" --junit "$T/junit.xml" --no-color
expect_output "summary line printed" "passed, 0 failed"
if xmllint --noout --schema ci/junit.xsd "$T/junit.xml" >/dev/null 2>&1; then ok "JUnit valid against ci/junit.xsd"; else bad "JUnit valid against ci/junit.xsd"; fi
if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['schema']=='comet-results/1' and d['cases'] and all(c['trace'] for c in d['cases'])" "$T/results.json"; then ok "JSON results carry every trace"; else bad "JSON results carry every trace"; fi
expect_exit 0 "comet report re-renders saved results" "$COMET" report "$T/results.json" --junit "$T/junit2.xml" --no-color
expect_output "report prints the summary" "passed, 0 failed"

# 2. wrong expectations fail with exit 1 and say why
expect_exit 1 "wrong expectations fail with exit 1" "$COMET" run harness/tests/scenarios/wrong-expectations.yaml --no-color
expect_output "reason names expected and observed status" "status.*expected 200, observed 404"
expect_output "reason names the readyState pattern" "ready_states.*expected \[1, 2, 3, 4\], observed \[1, 2, 4\]"
expect_output "reason quotes the text expectation" "goodbye"

# 3. a broken scenario is a usage error with file:line:column
expect_exit 2 "validate: a bad scenario exits 2" "$COMET" validate harness/tests/scenarios/bad-scenario.yaml
expect_output "validate: the error names file:line:column" "bad-scenario.yaml:5:[0-9]*:.*stauts"
expect_exit 0 "validate: the shipped suites are valid" "$COMET" validate scenarios/ harness/tests/scenarios/sse-model.yaml harness/tests/scenarios/ws-model.yaml
expect_exit 2 "run: a bad scenario exits 2" "$COMET" run harness/tests/scenarios/bad-scenario.yaml
expect_exit 2 "unknown option exits 2" "$COMET" run --frobnicate scenarios/xhr

# 4. an unreachable target exits 3
expect_exit 3 "unreachable target exits 3" "$COMET" run scenarios/xhr/readystate.yaml --target http://127.0.0.1:9 --no-color

# 5. a broken server yields verdicts, never a crash
expect_exit 0 "broken server routes are graded" "$COMET" run harness/tests/scenarios/broken-server.yaml --json "$T/broken.json" --no-color
if python3 - "$T/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {c["name"]: c for c in d["cases"]}
bare = [e for e in by["bare LF line endings are tolerated"]["trace"] if e["ev"] == "finding"]
chunk = [e for e in by["bad chunk size is a network error"]["trace"] if e["ev"] == "network-error"]
assert bare and "offset" in bare[0], bare
assert chunk and "at byte" in chunk[0]["detail"], chunk
PY
then ok "findings and network errors carry byte offsets"; else bad "findings and network errors carry byte offsets"; fi

# 5b. hostile server bytes are escaped in every report (HTML, JUnit, terminal)
"$COMET" run harness/tests/scenarios/hostile.yaml --html "$T/h.html" --junit "$T/h.xml" --json "$T/h.json" >"$T/out" 2>&1
if [ -s "$T/h.html" ] && ! grep -q "<script" "$T/h.html" && grep -q "&lt;script&gt;" "$T/h.html" \
   && ! grep -q "$(printf '\033')" "$T/h.html" "$T/h.xml" "$T/out"; then
    ok "HTML, JUnit and terminal escape server bytes"
else
    bad "HTML, JUnit and terminal escape server bytes"
fi
if xmllint --noout --schema ci/junit.xsd "$T/h.xml" >/dev/null 2>&1; then ok "JUnit with hostile bytes stays valid"; else bad "JUnit with hostile bytes stays valid"; fi
expect_exit 1 "comet report --html re-renders (and exits as the run did)" "$COMET" report "$T/h.json" --html "$T/h2.html" --no-color
if [ -s "$T/h2.html" ] && ! grep -q "<script" "$T/h2.html"; then ok "re-rendered HTML escapes too"; else bad "re-rendered HTML escapes too"; fi

# 6. the standalone fixture over TLS: verification on by default, --cacert, --insecure
"$COMET" fixture --listen 127.0.0.1:0 --tls >"$T/fixture.out" 2>&1 &
PIDS="$PIDS $!"
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$T/fixture.out" && break; sleep 0.2; done
URL=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$T/fixture.out" | head -1)
if [ -n "$URL" ]; then
    expect_exit 0 "https target with --cacert" "$COMET" run scenarios/xhr/readystate.yaml --target "$URL" --cacert fixtures/certs/ca.pem --no-color
    expect_exit 3 "https target without the CA is refused" "$COMET" run scenarios/xhr/readystate.yaml --target "$URL" --no-color
    expect_output "the refusal says why" "certificate"
    expect_exit 0 "https target with --insecure" "$COMET" run scenarios/xhr/readystate.yaml --target "$URL" --insecure --no-color
else
    bad "standalone TLS fixture did not start: $(cat "$T/fixture.out")"
fi

# 6b. an IPv6 target (skipped when the machine has no ::1)
"$COMET" fixture --listen '[::1]:0' >"$T/fixture6.out" 2>&1 &
PIDS="$PIDS $!"
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q -e listening -e rror "$T/fixture6.out" && break; sleep 0.2; done
URL6=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/fixture6.out" | head -1)
if [ -n "$URL6" ]; then
    expect_exit 0 "IPv6 target $URL6" "$COMET" run scenarios/xhr/status.yaml --target "$URL6" --no-color
else
    echo "skip IPv6: $(head -1 "$T/fixture6.out")"
fi

# 7. -j and --repeat
expect_exit 0 "-j 4 runs cases at once" "$COMET" run scenarios/xhr -j 4 --no-color
expect_exit 0 "--repeat 2 keeps stable verdicts" "$COMET" run scenarios/xhr/status.yaml --repeat 2 --no-color

# 8. an interrupted run still writes its partial results
"$COMET" run harness/tests/scenarios/slow.yaml --json "$T/partial.json" --no-color >"$T/out" 2>&1 &
RUN=$!
for _ in $(seq 1 100); do grep -q "self-test-slow › first" "$T/out" && break; sleep 0.1; done
sleep 0.3
kill -INT "$RUN"
wait "$RUN"
code=$?
if [ "$code" = 1 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['interrupted'] and len(d['cases'])==2" "$T/partial.json"; then
    ok "SIGINT writes partial results (exit 1)"
else
    bad "SIGINT writes partial results (exit $code)"
fi

# 10. Server-Sent Events: the suite passes on the fixture's ticker; each broken stream fails
# the case that checks it, with its reason
expect_exit 0 "SSE suite passes on the embedded fixture" "$COMET" run scenarios/sse -j 4 --no-color
expect_exit 0 "SSE model self-tests pass" "$COMET" run harness/tests/scenarios/sse-model.yaml -j 4 --no-color
# sse_broken NAME QUERY CASE REASON: SSE_STREAM=/sse/ticker?QUERY fails CASE saying REASON
sse_broken() {
    SSE_STREAM="/sse/ticker?$2" "$COMET" run scenarios/sse -j 4 --no-color >"$T/out" 2>&1
    if grep -A3 "^[A-Z-]*  sse › $3" "$T/out" | grep -q -- "$4" &&
       ! grep -q "^PASS  sse › $3" "$T/out"; then ok "SSE suite: $1"; else bad "SSE suite: $1"; fi
}
sse_broken "text/plain fails the MIME type check" "n=0&id=1&resume=1&gap=100ms&retry=500&type=text/plain" \
    "the stream is text/event-stream" 'observed "text/plain"'
sse_broken "a buffering server fails the first-event bound" "n=0&id=1&resume=1&gap=100ms&retry=500&buffer=4000" \
    "the first event arrives" "first_message.*none came"
sse_broken "no heartbeat fails max_silence" "n=0&id=1&resume=1&gap=3s&retry=500" \
    "events and heartbeats" "max_silence.*silent for"
sse_broken "gzip is graded non-strict" "n=0&id=1&resume=1&gap=100ms&retry=500&gzip=1" \
    "events are not compressed" 'content-encoding.*observed "gzip"'
sse_broken "no resume fails the sequence check" "n=0&id=1&gap=100ms&heartbeat=500ms&retry=500" \
    "resume with Last-Event-ID" "sequence.*duplicate or step back"
sse_broken "events without ids fail" "n=0&gap=100ms&heartbeat=500ms&retry=500" \
    "every event carries an id" "lastEventId expected to match"
sse_broken "no retry field leaves 3 s" "n=0&id=1&resume=1&gap=100ms&heartbeat=500ms" \
    "the server's retry field" "reconnect_delay.*3000 ms"

# 11. WebSocket: the suite passes on the embedded fixture, over wss:// with the TLS fixture,
# and each broken echo fails (or is graded non-strict) on the case that checks it
expect_exit 0 "WebSocket suite passes on the embedded fixture" "$COMET" run scenarios/websocket -j 4 --no-color
expect_exit 0 "WebSocket model self-tests pass" "$COMET" run harness/tests/scenarios/ws-model.yaml -j 4 --no-color
if [ -n "$URL" ]; then
    WSS=$(echo "$URL" | sed 's/^https:/wss:/')/ws/echo
    expect_exit 0 "WebSocket suite over wss:// ($WSS)" "$COMET" run scenarios/websocket --target "$WSS" --cacert fixtures/certs/ca.pem -j 4 --no-color
fi
: >"$T/fixture-ws.out"
"$COMET" fixture --listen 127.0.0.1:0 >"$T/fixture-ws.out" 2>&1 &
PIDS="$PIDS $!"
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$T/fixture-ws.out" && break; sleep 0.2; done
WS=$(sed -n 's/.*listening on http:\([^ ]*\).*/ws:\1/p' "$T/fixture-ws.out" | head -1)
# ws_broken KIND EXIT CASE REASON: /ws/echo?broken=KIND makes the run exit EXIT, grading CASE
# (not PASS) with REASON
ws_broken() {
    "$COMET" run scenarios/websocket -j 4 --no-color --target "$WS/ws/echo?broken=$1" >"$T/out" 2>&1
    got=$?
    if [ "$got" = "$2" ] && grep -A4 "^[A-Z-]*  websocket › $3" "$T/out" | grep -q -- "$4" &&
       ! grep -q "^PASS  websocket › $3" "$T/out"; then ok "WebSocket suite: broken=$1"; else echo "     exit $got"; bad "WebSocket suite: broken=$1"; fi
}
ws_broken no-close-reply 1 "echo text of 0 bytes" "none came \[close: unclean\]"
ws_broken close-1000 0 "reserved opcode 3 is answered" "expected close 1002, observed close 1000 \[close: wrong code\]"
ws_broken lenient 1 "close 0 on the wire" "registry: close code 0"
ws_broken no-utf8-check 1 "invalid UTF-8 in a text message" "expected a close frame with code 1007"
ws_broken hold-tcp 1 "the server closes TCP after the closing handshake" "it did not \[close: unclean\]"
ws_broken masked 1 "echo binary of 125 bytes" "observed 1006"
ws_broken no-pong 1 "ping with an empty payload gets a pong" "pongs.*observed \[\]"
ws_broken truncate 1 "echo text of 65535 bytes" "received text of 1000 bytes"
ws_broken fragment-drop 1 "fragmented text message is echoed whole" "received text of 5 bytes"
expect_exit 1 "--strict fails non-strict results" "$COMET" run scenarios/websocket -j 4 --no-color --strict --target "$WS/ws/echo?broken=close-1000"

# 9. --help everywhere
for c in run validate report fixture; do
    expect_exit 0 "comet $c --help" "$COMET" "$c" --help
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
