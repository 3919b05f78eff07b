#!/usr/bin/python3
"""WebSocket echo server on python3-websockets (Debian bookworm: 10.4, the asyncio "legacy"
API) for comet's WebSocket interop suites.

Listens on 127.0.0.1:PORT, any path and any Origin. Every text message comes back as text and
every binary message as binary (a fragmented message comes back whole). Messages up to
--max-size bytes (16 MiB) are accepted; a bigger one is refused with close 1009. No
permessage-deflate (compression=None). Pings: websockets' defaults, i.e. pings from the client
are answered with pongs, and the server pings every 20 s and drops a connection that has not
answered within 20 s. A close frame is answered with the same code (the library's closing
handshake). SIGTERM or SIGINT stop it with exit 0.

Run it with Debian's /usr/bin/python3: the package lives in /usr/lib/python3/dist-packages.
"""
import argparse
import asyncio
import logging
import signal
import sys

import websockets

MIB = 1024 * 1024


async def echo(ws, path=None):  # 10.4 passes the path only to two-argument handlers
    try:
        async for message in ws:  # str for text, bytes for binary: sent back as it came
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def serve(port: int, max_size: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(echo, "127.0.0.1", port, max_size=max_size, compression=None):
        print(f"ws-python: websockets {websockets.__version__} echo on ws://127.0.0.1:{port}/ "
              f"(max_size {max_size})", flush=True)
        await stop


def main() -> int:
    ap = argparse.ArgumentParser(description="WebSocket echo server (python3-websockets)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--max-size", type=int, default=16 * MIB, help="largest message (16 MiB)")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(args.port, args.max_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
