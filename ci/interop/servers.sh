#!/usr/bin/env bash
# Real third-party servers for comet's SSE and WebSocket interop suites, started on loopback
# and stopped by PID. Use it as a command or source it (bash) for the functions:
#
#   ci/interop/servers.sh start KIND PORT DIR [ARGS...]   servers_start KIND PORT DIR [ARGS...]
#   ci/interop/servers.sh stop DIR [NAME...]              servers_stop DIR [NAME...]
#                                                         servers_start_free KIND DIR [ARGS...]
#   ci/interop/servers.sh status DIR                      servers_status DIR
#
# KIND (each listens on 127.0.0.1 only):
#   nchan PORT DIR           nginx + nchan (ci/interop/nchan.conf.in: /sub /live /pub
#                            /bad-type /buffered /ready)                    name: nchan-PORT
#   publisher PORT DIR [CHANNEL [GAP_MS [SECONDS [OPTION...]]]]
#                            ci/interop/publisher.py: "seq 1", "seq 2", ... every GAP_MS (100)
#                            for SECONDS (0: until stopped) to http://127.0.0.1:PORT/pub/CHANNEL
#                            (CHANNEL: demo), PORT being an nchan's   name: publisher-PORT-CHANNEL
#   ws-python PORT DIR       ci/interop/ws_echo_python.py (python3-websockets) name: ws-python-PORT
#   ws-node PORT DIR         ci/interop/ws_echo_node.js (node-ws)        name: ws-node-PORT
#
# start returns once the server answers (at most SERVERS_WAIT seconds, 15), and fails with the
# reason and the end of its log otherwise, leaving nothing running. In DIR, per NAME: NAME.pid
# (its PID), NAME.log (its stdout and stderr), NAME.cmd (a string its command line holds, so
# that stop never signals a process that merely reuses the PID); nchan also gets NAME/ (nginx's
# config, pid file, logs and temp files). stop sends SIGTERM to each PID in DIR (or to the NAMEs
# given), waits up to 5 s, then SIGKILLs it and its children; it touches no other process.
# Missing Debian packages are installed when run as root with apt-get, else named.
#
# A script that sources this file should itself run under `set -euo pipefail` and call
# servers_stop from an EXIT trap.

SERVERS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVERS_WAIT=${SERVERS_WAIT:-15}
# Debian's python3: python3-websockets is in /usr/lib/python3/dist-packages, which another
# python3 on PATH (pyenv, a venv) does not see.
SERVERS_PYTHON=${SERVERS_PYTHON:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || echo python3)}
SERVERS_NGINX=${SERVERS_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
SERVERS_NCHAN_MODULE=${SERVERS_NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

_servers_err() { echo "servers.sh: $*" >&2; }

# _servers_install PACKAGE...: installs them as root with apt-get, else names them
_servers_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "servers.sh: installing $*" >&2
        local log
        log=$(mktemp)
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >"$log" 2>&1; then
            if ! { apt-get update -qq >>"$log" 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                    --no-install-recommends "$@" >>"$log" 2>&1; }; then
                cat "$log" >&2
                rm -f "$log"
                _servers_err "could not install: $*"
                return 1
            fi
        fi
        rm -f "$log"
        return 0
    fi
    _servers_err "missing Debian packages: run sudo apt-get install $*"
    return 1
}

_servers_node() { command -v node || command -v nodejs || true; }

# _servers_need KIND: the packages KIND runs on are there (installed if need be)
_servers_need() {
    case $1 in
    nchan)
        if [ ! -x "$SERVERS_NGINX" ] || [ ! -f "$SERVERS_NCHAN_MODULE" ]; then
            _servers_install nginx libnginx-mod-nchan || return 1
            SERVERS_NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        fi
        if [ ! -x "$SERVERS_NGINX" ] || [ ! -f "$SERVERS_NCHAN_MODULE" ]; then
            _servers_err "no nginx or no $SERVERS_NCHAN_MODULE"
            return 1
        fi
        ;;
    publisher)
        command -v "$SERVERS_PYTHON" >/dev/null || _servers_install python3 || return 1
        ;;
    ws-python)
        if ! "$SERVERS_PYTHON" -c 'import websockets' 2>/dev/null; then
            _servers_install python3 python3-websockets || return 1
            "$SERVERS_PYTHON" -c 'import websockets' ||
                { _servers_err "$SERVERS_PYTHON cannot import websockets"; return 1; }
        fi
        ;;
    ws-node)
        if [ -z "$(_servers_node)" ] || [ ! -f /usr/share/nodejs/ws/package.json ]; then
            _servers_install nodejs node-ws || return 1
        fi
        [ -n "$(_servers_node)" ] || { _servers_err "no node"; return 1; }
        ;;
    esac
}

# _servers_alive PID: the process exists and is not a zombie
_servers_alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    case ${stat%% *} in Z | X) return 1 ;; esac
    return 0
}

# _servers_ours PID MARKER: PID is alive and its command line holds MARKER
_servers_ours() {
    _servers_alive "$1" || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
    case $cmdline in *"$2"*) return 0 ;; esac
    return 1
}

# _servers_children PID: the PIDs whose parent is PID
_servers_children() {
    local f stat
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        stat=${stat##*) } # "STATE PPID ..."
        stat=${stat#* }
        if [ "${stat%% *}" = "$1" ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

# _servers_stop_one DIR NAME
_servers_stop_one() {
    local dir=$1 name=$2 pid marker deadline kid kids
    pid=$(cat "$dir/$name.pid" 2>/dev/null) || return 0
    marker=$(cat "$dir/$name.cmd" 2>/dev/null || echo "$name")
    if [ -n "$pid" ] && _servers_ours "$pid" "$marker"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while _servers_alive "$pid" && [ $SECONDS -le $deadline ]; do
            sleep 0.1
        done
        if _servers_alive "$pid"; then
            _servers_err "$name (pid $pid) ignored SIGTERM for 5 s: SIGKILL"
            kids=$(_servers_children "$pid") # before its children are handed to init
            kill -KILL "$pid" 2>/dev/null || true
            for kid in $kids; do kill -KILL "$kid" 2>/dev/null || true; done
        fi
    elif [ -n "$pid" ] && _servers_alive "$pid"; then
        _servers_err "$name: pid $pid is no longer $marker: left alone"
    fi
    wait "$pid" 2>/dev/null || true # reaps it when this shell started it
    rm -f "$dir/$name.pid"
}

# servers_stop DIR [NAME...]: stops the named servers, or every server started in DIR
servers_stop() {
    local dir=${1:?servers_stop DIR [NAME...]} f
    shift
    if [ $# -eq 0 ]; then
        # publishers first: they are the servers' clients
        for f in "$dir"/publisher-*.pid "$dir"/*.pid; do
            [ -e "$f" ] || continue
            f=${f##*/}
            _servers_stop_one "$dir" "${f%.pid}"
        done
    else
        for f in "$@"; do _servers_stop_one "$dir" "$f"; done
    fi
}

# servers_status DIR: NAME PID running|exited, one a line
servers_status() {
    local dir=${1:?servers_status DIR} f name pid
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        name=${f##*/}
        name=${name%.pid}
        pid=$(cat "$f")
        if _servers_ours "$pid" "$(cat "$dir/$name.cmd" 2>/dev/null || echo "$name")"; then
            echo "$name $pid running"
        else
            echo "$name $pid exited"
        fi
    done
}

# servers_start KIND PORT DIR [ARGS...]: starts one server; prints "NAME PID" when it is ready
servers_start() {
    if [ $# -lt 3 ]; then
        _servers_err "usage: servers_start nchan|publisher|ws-python|ws-node PORT DIR [ARGS...]"
        return 2
    fi
    local kind=$1 port=$2 dir=$3 name sdir pid marker log
    shift 3
    case $port in '' | *[!0-9]*) _servers_err "$kind: port '$port' is not a number"; return 2 ;; esac
    [ -d "$dir" ] || { _servers_err "$kind: no directory $dir"; return 2; }
    dir=$(cd "$dir" && pwd)
    _servers_need "$kind" || return 1
    local probe=()
    case $kind in
    nchan)
        name=nchan-$port
        sdir=$dir/$name
        marker=$sdir/nginx.conf
        set -- "$SERVERS_NGINX" -p "$sdir" -c "$sdir/nginx.conf" -e "$sdir/error.log"
        probe=(http "$port" /ready 204)
        ;;
    publisher)
        local channel=${1:-demo} gap=${2:-100} seconds=${3:-0}
        case $channel in *[!A-Za-z0-9_.-]*)
            _servers_err "publisher: channel '$channel': letters, digits, _ . - only"; return 2 ;;
        esac
        if [ $# -gt 3 ]; then shift 3; else set --; fi
        name=publisher-$port-$channel
        marker="publisher.py http://127.0.0.1:$port/pub/$channel "
        set -- "$SERVERS_PYTHON" -u "$SERVERS_HERE/publisher.py" \
            "http://127.0.0.1:$port/pub/$channel" --interval-ms "$gap" --seconds "$seconds" "$@"
        probe=(log "$dir/$name.log" '^published seq ')
        ;;
    ws-python)
        name=ws-python-$port
        marker="ws_echo_python.py --port $port"
        set -- "$SERVERS_PYTHON" -u "$SERVERS_HERE/ws_echo_python.py" --port "$port" "$@"
        probe=(ws "$port")
        ;;
    ws-node)
        name=ws-node-$port
        marker="ws_echo_node.js --port $port"
        set -- "$(_servers_node)" "$SERVERS_HERE/ws_echo_node.js" --port "$port" "$@"
        probe=(ws "$port")
        ;;
    *)
        _servers_err "unknown server '$kind' (nchan, publisher, ws-python, ws-node)"
        return 2
        ;;
    esac
    if [ -f "$dir/$name.pid" ] && _servers_ours "$(cat "$dir/$name.pid")" "$marker"; then
        _servers_err "$name is already running (pid $(cat "$dir/$name.pid"))"
        return 1
    fi
    if [ "$kind" = nchan ]; then
        rm -rf "$sdir"
        mkdir -p "$sdir/tmp"
        chmod 755 "$dir" "$sdir" # nginx's workers run as another user when started by root
        sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$sdir|g" -e "s|@MODULE@|$SERVERS_NCHAN_MODULE|g" \
            "$SERVERS_HERE/nchan.conf.in" >"$sdir/nginx.conf"
    fi
    log=$dir/$name.log
    NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH} "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/$name.pid"
    printf '%s\n' "$marker" >"$dir/$name.cmd"
    if ! "$SERVERS_PYTHON" "$SERVERS_HERE/wait_ready.py" --pid "$pid" --timeout "$SERVERS_WAIT" \
        "${probe[@]}" 2>"$dir/$name.wait"; then
        _servers_err "$name did not start: $(cat "$dir/$name.wait")"
        _servers_stop_one "$dir" "$name"
        {
            tail -n 12 "$log"
            if [ -f "$dir/$name/error.log" ]; then tail -n 6 "$dir/$name/error.log"; fi
        } | sed 's/^/    | /' >&2 || true
        rm -f "$dir/$name.wait"
        return 1
    fi
    rm -f "$dir/$name.wait"
    echo "$name $pid"
}

# A loopback port nobody listens on now.
servers_free_port() {
    "$SERVERS_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# servers_start_free KIND DIR [ARGS...]: servers_start on a free port, a few tries (the port
# can be taken between the probe and the server's bind). Prints "NAME PID PORT"; the last
# attempt's messages are in DIR/start.err.
servers_start_free() {
    local kind=$1 dir=$2 port started try
    shift 2
    for try in 1 2 3; do
        port=$(servers_free_port)
        if started=$(servers_start "$kind" "$port" "$dir" "$@" 2>"$dir/start.err"); then
            echo "$started $port"
            return 0
        fi
        echo "     ($kind on $port: try $try failed)" >&2
    done
    return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
    start) servers_start "$@" ;;
    stop) servers_stop "$@" ;;
    status) servers_status "$@" ;;
    *)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
    esac
fi
