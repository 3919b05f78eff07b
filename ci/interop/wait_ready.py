#!/usr/bin/env python3
"""Waits, for at most --timeout seconds, until a server that ci/interop/servers.sh started is
ready, and fails at once if its process --pid has exited. Standard library only.

  wait_ready.py --pid PID [--timeout S] http PORT PATH STATUS   GET answers STATUS
  wait_ready.py --pid PID [--timeout S] ws PORT                 WebSocket handshake: 101, and
                                                                a close 1000 comes back
  wait_ready.py --pid PID [--timeout S] log FILE REGEX          FILE has a line matching REGEX

Exit 0 when ready; 1 with the reason on stderr otherwise.
"""
import argparse
import base64
import os
import re
import socket
import struct
import sys
import time


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


def probe_http(port: int, path: str, status: int) -> str:
    """'' when GET path answers status, else what happened."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        line = s.makefile("rb").readline().decode("latin-1").strip()
    got = line.split(" ")[1] if line.startswith("HTTP/") and " " in line else line
    return "" if got == str(status) else f"GET {path}: {line or 'no answer'}"


def probe_ws(port: int) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(f"GET /ready HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        f = s.makefile("rb")
        line = f.readline().decode("latin-1").strip()
        if not line.startswith("HTTP/1.1 101"):
            return f"handshake: {line or 'no answer'}"
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass
        mask = os.urandom(4)
        payload = struct.pack("!H", 1000)
        s.sendall(bytes([0x88, 0x80 | len(payload)]) + mask +
                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        head = f.read(2)
        if len(head) < 2 or head[0] & 0x0F != 8:
            return "no close frame came back"
    return ""


def probe_log(path: str, regex: str) -> str:
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError as e:
        return str(e)
    return "" if re.search(regex, text, re.M) else f"nothing in {path} matches {regex!r} yet"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("kind", choices=["http", "ws", "log"])
    ap.add_argument("args", nargs="+")
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    why = "not tried"
    while True:
        if not alive(a.pid):
            print(f"process {a.pid} exited before it was ready ({why})", file=sys.stderr)
            return 1
        try:
            if a.kind == "http":
                why = probe_http(int(a.args[0]), a.args[1], int(a.args[2]))
            elif a.kind == "ws":
                why = probe_ws(int(a.args[0]))
            else:
                why = probe_log(a.args[0], a.args[1])
        except (OSError, ValueError, IndexError) as e:
            why = f"{type(e).__name__}: {e}"
        if not why:
            return 0
        if time.monotonic() >= deadline:
            print(f"not ready after {a.timeout:g} s: {why}", file=sys.stderr)
            return 1
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
