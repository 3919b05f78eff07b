#!/bin/sh
# Interop: a CORS policy suite against a real nginx (Debian package `nginx`). nginx runs from
# a temporary directory (its own config, pid file and logs) on a free loopback port, and is
# stopped by its PID at the end. One location has a correct policy, written the usual way
# (a map on $http_origin, add_header ... always, OPTIONS answered 204); two have a classic
# mistake each. The policy suite must pass on the first and fail on the others, naming the
# mistake. Prints "N passed, N failed"; exits 1 when anything failed.
set -u
COMET=${COMET:-build/comet}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
passed=0
failed=0

if [ ! -x "$NGINX" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing nginx"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx \
            >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx \
            >/dev/null 2>&1; }
        NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    fi
    if [ ! -x "$NGINX" ]; then
        echo "nginx is not installed: run sudo apt-get install nginx"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

D=$(mktemp -d)
chmod 755 "$D" # nginx's workers run as another user when started by root
stop_nginx() {
    if [ -s "$D/nginx.pid" ]; then
        pid=$(cat "$D/nginx.pid")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
}
trap 'stop_nginx; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -f "$D/out" ] && sed 's/^/     | /' "$D/out" | tail -40
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

write_config() { # PORT
    mkdir -p "$D/tmp"
    cat >"$D/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $D/nginx.pid;
error_log $D/error.log warn;
events { worker_connections 64; }
http {
    access_log $D/access.log;
    client_body_temp_path $D/tmp/body;
    proxy_temp_path $D/tmp/proxy;
    fastcgi_temp_path $D/tmp/fastcgi;
    uwsgi_temp_path $D/tmp/uwsgi;
    scgi_temp_path $D/tmp/scgi;
    default_type text/plain;

    # The policy: these origins (one exact, one subdomain label of example.test), echoed back.
    map \$http_origin \$cors_origin {
        default "";
        "https://app.example.test" \$http_origin;
        "~^https://[a-z0-9-]+\\.example\\.test\$" \$http_origin;
    }
    map \$cors_origin \$cors_credentials {
        "" "";
        default "true";
    }

    server {
        listen 127.0.0.1:$1;

        location = /api/good {
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$cors_origin always;
                add_header Access-Control-Allow-Credentials \$cors_credentials always;
                add_header Access-Control-Allow-Methods "PUT, DELETE" always;
                add_header Access-Control-Allow-Headers "Content-Type, X-Requested-With" always;
                add_header Access-Control-Max-Age 600 always;
                add_header Vary Origin always;
                return 204;
            }
            add_header Access-Control-Allow-Origin \$cors_origin always;
            add_header Access-Control-Allow-Credentials \$cors_credentials always;
            add_header Access-Control-Expose-Headers X-Total-Count always;
            add_header X-Total-Count 42 always;
            add_header X-Internal-Id 7 always;
            add_header Vary Origin always;
            return 200 "ok\n";
        }

        # Wrong: echoes whatever Origin comes, so every site may read (with cookies).
        location = /api/reflect {
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$http_origin always;
                add_header Access-Control-Allow-Credentials true always;
                add_header Access-Control-Allow-Methods "PUT, DELETE" always;
                add_header Access-Control-Allow-Headers "Content-Type, X-Requested-With" always;
                add_header Access-Control-Max-Age 600 always;
                add_header Vary Origin always;
                return 204;
            }
            add_header Access-Control-Allow-Origin \$http_origin always;
            add_header Access-Control-Allow-Credentials true always;
            add_header Access-Control-Expose-Headers X-Total-Count always;
            add_header X-Total-Count 42 always;
            add_header Vary Origin always;
            return 200 "ok\n";
        }

        # Wrong: the preflight forgets a header the policy declares.
        location = /api/missing-header {
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$cors_origin always;
                add_header Access-Control-Allow-Credentials \$cors_credentials always;
                add_header Access-Control-Allow-Methods "PUT, DELETE" always;
                add_header Access-Control-Allow-Headers "Content-Type" always;
                add_header Access-Control-Max-Age 600 always;
                add_header Vary Origin always;
                return 204;
            }
            add_header Access-Control-Allow-Origin \$cors_origin always;
            add_header Access-Control-Allow-Credentials \$cors_credentials always;
            add_header Access-Control-Expose-Headers X-Total-Count always;
            add_header X-Total-Count 42 always;
            add_header Vary Origin always;
            return 200 "ok\n";
        }
    }
}
EOF
}

# A free port can be taken between the probe and nginx's bind: try a few.
started=0
for attempt in 1 2 3; do
    PORT=$(free_port)
    write_config "$PORT"
    if "$NGINX" -p "$D" -c "$D/nginx.conf" -e "$D/error.log" >"$D/start.log" 2>&1; then
        started=1
        break
    fi
done
if [ "$started" = 0 ]; then
    echo "nginx did not start:"
    cat "$D/start.log" "$D/error.log" 2>/dev/null
    echo "0 passed, 1 failed"
    exit 1
fi
version=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')
echo "nginx $version on 127.0.0.1:$PORT (pid $(cat "$D/nginx.pid"))"

cat >"$D/policy.yaml" <<'EOF'
suite: nginx-cors
target: ${NGINX_TARGET}
cors_policy:
  url: ${NGINX_PATH}
  allowed_origins: [https://app.example.test, "https://*.example.test"]
  methods: [PUT, DELETE]
  headers: [Content-Type, X-Requested-With]
  exposed_headers: [X-Total-Count]
  credentials: true
  max_age: 600s
EOF

# check NAME PATH WANT_EXIT [TEXT...]: runs the policy suite against PATH
check() {
    name=$1; path=$2; want=$3; shift 3
    NGINX_TARGET="http://127.0.0.1:$PORT" NGINX_PATH="$path" \
        "$COMET" run "$D/policy.yaml" --no-color >"$D/out" 2>&1
    got=$?
    if [ "$got" = "$want" ]; then
        ok "$name: exit $want"
    else
        echo "     exit $got"
        bad "$name: exit $want"
    fi
    for text in "$@"; do
        if grep -qF -- "$text" "$D/out"; then
            ok "$name: $text"
        else
            bad "$name (missing: $text)"
        fi
    done
}

check "correct policy passes" /api/good 0 \
    "19 passed, 0 failed, 0 errors, 0 non-strict, 0 informational"
check "reflecting policy fails" /api/reflect 1 \
    "FAIL  nginx-cors › cors policy: an undeclared origin is not echoed back" \
    'expected anything but "https://evil.comet-probe.test", '\
'observed "https://evil.comet-probe.test"' \
    "FAIL  nginx-cors › cors policy: an undeclared origin is refused (https://evil.comet-probe"
check "policy missing a header fails" /api/missing-header 1 \
    "FAIL  nginx-cors › cors policy: https://app.example.test may send X-Requested-With" \
    "Request header field x-requested-with is not allowed by Access-Control-Allow-Headers" \
    "18 passed, 1 failed"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
