#!/usr/bin/python3
"""Checks that the interop servers behave as ci/interop/servers.sh promises (it does not test
comet). Prints "ok   WHAT" or "FAIL WHAT: WHY" per check; exit 1 when one failed.

  check.py sse PORT CHANNEL   nchan on PORT, with a publisher sending "seq N" to CHANNEL
  check.py ws PORT            a WebSocket echo server on PORT (needs python3-websockets)

Run it with Debian's /usr/bin/python3 (for python3-websockets).
"""
import asyncio
import codecs
import http.client
import os
import re
import socket
import sys
import time

MIB = 1024 * 1024
results = []


def report(ok: bool, what: str, why: str = "") -> None:
    results.append(ok)
    print(f"ok   {what}" if ok else f"FAIL {what}: {why}", flush=True)


# ---- SSE -----------------------------------------------------------------------------------
class Stream:
    """A GET on nchan over a raw socket: status, headers, then the (de-chunked) body, and the
    SSE fields in it, as they arrive."""

    def __init__(self, port, path, headers=(), accept="text/event-stream"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        if accept:
            req += f"Accept: {accept}\r\n"
        for h in headers:
            req += h + "\r\n"
        self.s.sendall((req + "\r\n").encode())
        self.raw = b""
        self.body = b""
        self.status = None
        self.headers = {}
        self.chunked = False
        self.closed = False
        self.events = []  # dicts: id, event, data
        self.comments = []
        self._pending = b""  # undecoded body bytes (chunked)
        self._text = ""  # body not yet split into lines
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._ev = {}

    def _read(self, until: float) -> bool:
        left = until - time.monotonic()
        if left <= 0 or self.closed:
            return False
        self.s.settimeout(left)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            return False
        if not data:
            self.closed = True
            return False
        if self.status is not None:
            self._feed(data)
            return True
        self.raw += data
        end = self.raw.find(b"\r\n\r\n")
        if end >= 0:
            lines = self.raw[:end].decode("latin-1").split("\r\n")
            self.status = int(lines[0].split(" ")[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            self._feed(self.raw[end + 4:])
        return True

    def _feed(self, data: bytes) -> None:
        self._pending += data
        out = b""
        if self.chunked:
            while True:
                nl = self._pending.find(b"\r\n")
                if nl < 0:
                    break
                size = int(self._pending[:nl].split(b";")[0], 16)
                if len(self._pending) < nl + 2 + size + 2:
                    break
                out += self._pending[nl + 2:nl + 2 + size]
                self._pending = self._pending[nl + 2 + size + 2:]
        else:
            out, self._pending = self._pending, b""
        self.body += out
        self._text += self._utf8.decode(out)
        self._lines()

    def _lines(self) -> None:
        while True:
            m = re.search(r"\r\n|\r|\n", self._text)
            if not m or (m.group() == "\r" and m.end() == len(self._text)):
                return
            line, self._text = self._text[:m.start()], self._text[m.end():]
            if line == "":
                if self._ev:
                    self.events.append(self._ev)
                self._ev = {}
            elif line.startswith(":"):
                self.comments.append(line)
            else:
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    self._ev["data"] = self._ev["data"] + "\n" + v if "data" in self._ev else v
                else:
                    self._ev[k] = v

    def wait_headers(self, timeout: float) -> bool:
        until = time.monotonic() + timeout
        while self.status is None and self._read(until):
            pass
        return self.status is not None

    def wait_events(self, n: int, timeout: float) -> list:
        until = time.monotonic() + timeout
        while len(self.events) < n and self._read(until):
            pass
        return self.events

    def wait_comment(self, text: str, timeout: float) -> bool:
        until = time.monotonic() + timeout
        while text not in self.comments and self._read(until):
            pass
        return text in self.comments

    def drain(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while self._read(until):
            pass

    def close(self) -> None:
        self.s.close()


def seqs(events):
    out = []
    for e in events:
        m = re.fullmatch(r"seq (\d+)", e.get("data", ""))
        out.append(int(m.group(1)) if m else None)
    return out


def consecutive(ns) -> bool:
    return all(n is not None for n in ns) and all(b == a + 1 for a, b in zip(ns, ns[1:]))


def check_sse(port: int, channel: str) -> None:
    st = Stream(port, f"/sub/{channel}")
    if not st.wait_headers(5):
        report(False, "/sub answers", "no response headers in 5 s")
        return
    ctype = st.headers.get("content-type", "")
    report(st.status == 200 and ctype.startswith("text/event-stream"),
           "/sub: 200 text/event-stream", f"{st.status} {ctype!r}")
    evs = st.wait_events(8, 10)[:8]
    ns = seqs(evs)
    report(len(evs) == 8 and consecutive(ns), "/sub: 8 events, seq N consecutive",
           f"got {ns}")
    ids = [e.get("id", "") for e in evs]
    good = all(re.fullmatch(r"\d+:\d+", i) for i in ids)
    keys = [tuple(int(x) for x in i.split(":")) for i in ids] if good else []
    report(good and keys == sorted(set(keys)), "/sub: ids are TIME:TAG, increasing", f"{ids}")
    report(st.comments[:1] == [": hi"], '/sub: the stream opens with ": hi"', f"{st.comments[:3]}")
    st.close()

    # Resume: reconnect with the id of the 5th event: the 6th comes first, and so on.
    if len(evs) >= 5 and good:
        time.sleep(0.3)  # the publisher goes on meanwhile
        st = Stream(port, f"/sub/{channel}", [f"Last-Event-ID: {ids[4]}"])
        evs2 = st.wait_events(5, 10)[:5]
        ns2 = seqs(evs2)
        report(len(ns2) == 5 and ns2[0] == ns[4] + 1 and consecutive(ns2),
               f"/sub: Last-Event-ID {ids[4]} resumes at seq {ns[4] + 1 if ns[4] else '?'}",
               f"got {ns2}")
        report(evs2[:3] == evs[5:8], "/sub: the resumed events are the same bytes",
               f"{evs2[:3]} vs {evs[5:8]}")
        st.close()
        st = Stream(port, f"/sub/{channel}?last_event_id={ids[4]}")
        ns3 = seqs(st.wait_events(2, 10)[:2])
        report(ns3[:1] == [ns[4] + 1], "/sub: ?last_event_id= resumes too", f"got {ns3}")
        st.close()

    # Heartbeat: a ":ping" comment within 2.5 s on a channel nobody publishes to.
    st = Stream(port, f"/sub/{channel}-idle")
    report(st.wait_comment(":ping", 2.5), '/sub: a ":ping" comment every second',
           f"comments {st.comments}, body {st.body[:200]!r}")
    st.close()

    # /live: no backlog.
    st = Stream(port, f"/live/{channel}")
    back = Stream(port, f"/sub/{channel}")
    back.wait_events(1, 5)
    nl = seqs(st.wait_events(1, 5)[:1])
    report(bool(nl) and nl[0] is not None and nl[0] > 1, "/live: starts after the backlog",
           f"first {nl}")
    st.close()
    back.close()

    # 403 without Accept: text/event-stream
    st = Stream(port, f"/sub/{channel}", accept=None)
    st.wait_headers(5)
    report(st.status == 403, "/sub without Accept: text/event-stream: 403", f"{st.status}")
    st.close()

    # Wrong: text/plain.
    st = Stream(port, f"/bad-type/{channel}")
    st.wait_headers(5)
    st.wait_events(1, 5)
    ctype = st.headers.get("content-type", "")
    report(st.status == 200 and ctype.startswith("text/plain") and st.events and
           seqs(st.events[:1])[0] is not None,
           "/bad-type: 200 text/plain carrying the events", f"{st.status} {ctype!r} {st.body[:80]!r}")
    st.close()

    # Wrong: buffered. Headers at once; no body for 3 s while events are being published.
    st = Stream(port, f"/buffered/{channel}")
    got = st.wait_headers(2)
    ctype = st.headers.get("content-type", "")
    report(got and st.status == 200 and ctype.startswith("text/event-stream"),
           "/buffered: 200 text/event-stream at once", f"{st.status} {ctype!r}")
    st.drain(3)
    report(st.body == b"", "/buffered: no event for 3 s", f"{len(st.body)} bytes: {st.body[:80]!r}")
    st.close()
    # ... because of the buffer: a message bigger than it comes through.
    st = Stream(port, f"/buffered/{channel}-big")
    st.wait_headers(2)
    big = "b" * (300 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", f"/pub/{channel}-big", body=big.encode())
    conn.getresponse().read()
    conn.close()
    until = time.monotonic() + 5
    while len(st.body) < 200 * 1024 and st._read(until):
        pass
    # what is left of it (less than a buffer) waits for more, as the events did
    report(len(st.body) >= 200 * 1024,
           "/buffered: a 300 KiB message fills the buffer and comes through (in part)",
           f"{len(st.body)} body bytes")
    st.close()


# ---- WebSocket -----------------------------------------------------------------------------
async def ws_checks(port: int) -> None:
    import websockets

    uri = f"ws://127.0.0.1:{port}/any/path?q=1"
    kw = dict(max_size=None, compression=None, open_timeout=5, close_timeout=5)
    async with websockets.connect(uri, **kw) as ws:
        for what, msg in [("text", "héllo, wörld ✓"), ("binary", bytes(range(256))),
                          ("empty text", ""), ("empty binary", b"")]:
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 5)
            report(got == msg and type(got) is type(msg), f"ws {port}: {what} echoed",
                   f"{got!r:.80}")
        big = os.urandom(16 * MIB)
        await ws.send(big)
        got = await asyncio.wait_for(ws.recv(), 30)
        report(got == big, f"ws {port}: 16 MiB binary echoed", f"{len(got)} bytes")
        pong = await ws.ping(b"are you there")
        try:
            await asyncio.wait_for(pong, 5)
            report(True, f"ws {port}: ping answered")
        except asyncio.TimeoutError:
            report(False, f"ws {port}: ping answered", "no pong in 5 s")
        await ws.close(1000, "done")
        report(ws.close_code == 1000 and ws.close_rcvd is not None and ws.close_rcvd.code == 1000,
               f"ws {port}: close 1000 echoed",
               f"received {ws.close_rcvd}, code {ws.close_code}")

    async with websockets.connect(f"ws://127.0.0.1:{port}/", **kw) as ws:
        code = None
        try:
            await ws.send(b"x" * (16 * MIB + 1))
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
        report(code == 1009, f"ws {port}: 16 MiB + 1 refused with 1009", f"close {code}")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "sse":
        check_sse(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "ws":
        asyncio.run(ws_checks(int(sys.argv[2])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
