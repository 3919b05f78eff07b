#!/bin/sh
# The CORS policy suite, end to end: build/comet against the embedded fixture's /cors/policy
# route. The correct policy passes; each broken variant of the route makes the right case
# fail (or be flagged) for the right reason, and nothing else.
# Prints "N passed, N failed"; exits 1 when anything failed.
set -u
COMET=${COMET:-build/comet}
SUITE=scenarios/cors/policy-fixture.yaml
EVIL_ECHOED='expected anything but "https://evil.comet-probe.test", '\
'observed "https://evil.comet-probe.test"'
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -f "$T/out" ] && sed 's/^/     | /' "$T/out" | tail -30
}

# run NAME WANT_EXIT [VAR=VALUE] COMET-ARGS...: output in $T/out
run() {
    name=$1; want=$2; shift 2
    env "$@" >"$T/out" 2>&1
    got=$?
    if [ "$got" = "$want" ]; then
        ok "$name: exit $want"
    else
        echo "     exit $got"
        bad "$name: exit $want"
    fi
}

# has NAME TEXT: the last output holds TEXT (fixed string)
has() {
    if grep -qF -- "$2" "$T/out"; then ok "$1"; else bad "$1 (missing: $2)"; fi
}

# reason NAME VERDICT CASE TEXT: the case's line shows VERDICT and one of its reason lines
# (the indented lines under it) holds TEXT
reason() {
    if awk -v head="$2  cors-policy-fixture › cors policy: $3  (" -v text="$4" '
        index($0, head) == 1 { inside = 1; next }
        inside && /^      / { if (index($0, text)) found = 1; next }
        { inside = 0 }
        END { exit !found }' "$T/out"; then
        ok "$1"
    else
        bad "$1 ($2 \"$3\" with reason: $4)"
    fi
}

# 1. the shipped CORS suites pass on the correct fixture, and validate
run "shipped cors suites pass" 0 "$COMET" run scenarios/cors --no-color --junit "$T/junit.xml"
has "every policy case ran" "36 passed, 0 failed, 0 errors, 0 non-strict, 0 informational"
if xmllint --noout --schema ci/junit.xsd "$T/junit.xml" >/dev/null 2>&1; then
    ok "JUnit of the policy cases valid against ci/junit.xsd"
else
    bad "JUnit of the policy cases valid against ci/junit.xsd"
fi
run "cors suites validate" 0 "$COMET" validate scenarios/cors

# 2. each broken variant: the exit code, the case that catches it with its reason, the tally
variant() { # NAME EXIT SUMMARY
    run "broken=$1" "$2" CORS_FIXTURE_BROKEN="$1" "$COMET" run "$SUITE" --no-color
    has "broken=$1: tally" "$3"
}

variant reflect-any 1 "15 passed, 4 failed, 0 errors, 0 non-strict, 0 informational"
reason "reflect-any: the echo is named" FAIL "an undeclared origin is not echoed back" \
    "$EVIL_ECHOED"
reason "reflect-any: the undeclared origin gets through" FAIL \
    "an undeclared origin is refused (https://evil.comet-probe.test)" "status"

variant null 1 "18 passed, 1 failed, 0 errors, 0 non-strict, 0 informational"
reason "null: ACAO null is named" FAIL "the null origin is not granted" \
    'expected anything but "null", observed "null"'

variant no-vary 0 "18 passed, 0 failed, 0 errors, 1 non-strict, 0 informational"
reason "no-vary: graded non-strict" NON-STRICT "responses that echo the origin carry Vary: Origin" \
    'expected a list with the item "Origin", observed no such header'
run "no-vary fails under --strict" 1 \
    CORS_FIXTURE_BROKEN=no-vary "$COMET" run "$SUITE" --no-color --strict

variant star-credentials 1 "14 passed, 4 failed, 0 errors, 0 non-strict, 1 informational"
reason "star-credentials: the credentialed request is blocked" FAIL \
    "https://app.example.test may send credentials" "must not be the wildcard '*'"
reason "star-credentials: flagged informational" INFO \
    "a credentialed request is not answered with Access-Control-Allow-Origin: *" \
    'expected anything but "*", observed "*"'

variant acac-uppercase 1 "18 passed, 1 failed, 0 errors, 0 non-strict, 0 informational"
reason "acac-uppercase: TRUE is not true" FAIL "https://app.example.test may send credentials" \
    "is 'TRUE' which must be 'true'"

variant no-acao 1 "11 passed, 8 failed, 0 errors, 0 non-strict, 0 informational"
reason "no-acao: the header is missing" FAIL "https://app.example.test may GET" \
    "No 'Access-Control-Allow-Origin' header is present on the requested resource."

variant two-acao 1 "11 passed, 8 failed, 0 errors, 0 non-strict, 0 informational"
reason "two-acao: multiple values" FAIL "https://app.example.test may GET" \
    "contains multiple values 'https://app.example.test, *', but only one is allowed."

variant preflight-404 1 "15 passed, 4 failed, 0 errors, 0 non-strict, 0 informational"
reason "preflight-404: not an ok status" FAIL "https://app.example.test may PUT" \
    "It does not have HTTP ok status."

variant headers-not-covered 1 "18 passed, 1 failed, 0 errors, 0 non-strict, 0 informational"
reason "headers-not-covered: the header is named" FAIL \
    "https://app.example.test may send X-Requested-With" \
    "Request header field x-requested-with is not allowed by Access-Control-Allow-Headers"

variant wrong-origin 1 "18 passed, 1 failed, 0 errors, 0 non-strict, 0 informational"
reason "wrong-origin: the wildcard's origin is not matched" FAIL \
    "https://*.example.test may GET (as https://comet-probe.example.test)" \
    "has a value 'https://app.example.test' that is not equal to the supplied origin."

# 3. a wrong policy is a scenario error with file:line:column
cat >"$T/bad.yaml" <<'EOF'
cors_policy:
  url: /cors/policy
  allowed_origins: [https://app.example.test/]
EOF
run "a bad policy exits 2" 2 "$COMET" validate "$T/bad.yaml"
has "the error names file:line:column" "bad.yaml:3:21: bad origin \"https://app.example.test/\""

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
