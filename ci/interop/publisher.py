#!/usr/bin/env python3
"""Publishes "seq 1", "seq 2", ... to a publisher URL (nchan's POST /pub/CHANNEL) every
--interval-ms for --seconds (0: until killed), so that a subscriber sees a steady stream whose
order and completeness can be checked. Python 3 standard library only.

A message is POSTed once per tick on one keep-alive connection; a publish that fails is
retried with the same number at the next tick (the sequence never skips), and the publisher
gives up (exit 1) after --give-up seconds without a successful publish. SIGTERM or SIGINT end
it with exit 0. Each publish is logged on stdout: "published seq N status S".
"""
import argparse
import http.client
import signal
import socket
import sys
import time
import urllib.parse


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="publisher URL, e.g. http://127.0.0.1:18471/pub/demo")
    ap.add_argument("--interval-ms", type=float, default=100.0, help="gap between messages (100)")
    ap.add_argument("--seconds", type=float, default=0.0, help="run time; 0: until killed (0)")
    ap.add_argument("--start", type=int, default=1, help="first sequence number (1)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many; 0: no limit (0)")
    ap.add_argument("--format", default="seq {n}", help='message text ("seq {n}")')
    ap.add_argument("--event", default="", help="event name, sent as X-EventSource-Event")
    ap.add_argument("--give-up", type=float, default=10.0,
                    help="exit 1 after this many seconds without a successful publish (10)")
    ap.add_argument("--quiet", action="store_true", help="log failures only")
    args = ap.parse_args()

    u = urllib.parse.urlsplit(args.url)
    if u.scheme != "http" or not u.hostname:
        print(f"publisher: only http:// URLs: {args.url}", file=sys.stderr)
        return 2
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    port = u.port or 80

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    headers = {"Content-Type": "text/plain; charset=utf-8", "Accept": "text/plain"}
    if args.event:
        headers["X-EventSource-Event"] = args.event
    gap = args.interval_ms / 1000.0
    t0 = time.monotonic()
    last_ok = t0
    conn = None
    n = args.start
    sent = 0
    tick = 0
    while not stopping:
        now = time.monotonic()
        if args.seconds and now - t0 >= args.seconds:
            break
        if args.count and sent >= args.count:
            break
        body = args.format.format(n=n).encode()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, port, timeout=5)
                conn.connect()
                # headers and body go in two writes: no Nagle wait between them
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if 200 <= resp.status < 300:
                if not args.quiet:
                    print(f"published seq {n} status {resp.status}", flush=True)
                n += 1
                sent += 1
                last_ok = time.monotonic()
            else:
                print(f"publisher: seq {n}: HTTP {resp.status} {resp.reason}", flush=True)
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            print(f"publisher: seq {n}: {type(e).__name__}: {e}", flush=True)
            if conn is not None:
                conn.close()
            conn = None
        if time.monotonic() - last_ok > args.give_up:
            print(f"publisher: nothing published for {args.give_up:g} s: giving up", flush=True)
            return 1
        # A fixed schedule (no drift); a late tick is not made up for with a burst.
        tick += 1
        wait = t0 + tick * gap - time.monotonic()
        if wait < 0:
            tick = int((time.monotonic() - t0) / gap) + 1 if gap > 0 else tick
            wait = max(0.0, t0 + tick * gap - time.monotonic())
        while wait > 0 and not stopping:
            time.sleep(min(wait, 0.05))
            wait = t0 + tick * gap - time.monotonic()
    if conn is not None:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
