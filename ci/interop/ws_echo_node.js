#!/usr/bin/env node
// WebSocket echo server on node-ws (Debian bookworm: ws 8.11, in /usr/share/nodejs/ws) for
// comet's WebSocket interop suites.
//
// Listens on 127.0.0.1:PORT, any path and any Origin. Every text message comes back as text and
// every binary message as binary (a fragmented message comes back whole). Messages up to
// --max-size bytes (16 MiB) are accepted; a bigger one is refused with close 1009. No
// permessage-deflate. Pings from the client are answered with pongs (ws does it by itself); the
// server sends no pings of its own. A close frame is answered with the same code (ws's closing
// handshake). SIGTERM or SIGINT stop it with exit 0.
//
// usage: node ws_echo_node.js --port PORT [--max-size BYTES]
'use strict';

let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  // Debian's node-ws is found through Debian's nodejs search path; another node (NodeSource's,
  // say) does not look in /usr/share/nodejs.
  WebSocket = require('/usr/share/nodejs/ws');
}

const MIB = 1024 * 1024;

function parseArgs(argv) {
  const out = { port: 0, maxSize: 16 * MIB };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--port' && v !== undefined) { out.port = Number(v); i++; }
    else if (a === '--max-size' && v !== undefined) { out.maxSize = Number(v); i++; }
    else { throw new Error('usage: ws_echo_node.js --port PORT [--max-size BYTES]'); }
  }
  if (!Number.isInteger(out.port) || out.port <= 0 || out.port > 65535) {
    throw new Error('--port: a port number is needed');
  }
  if (!Number.isInteger(out.maxSize) || out.maxSize <= 0) throw new Error('--max-size: bytes');
  return out;
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`ws-node: ${e.message}`);
  process.exit(2);
}

const version = (() => {
  try { return require(require.resolve('ws/package.json')).version; } catch (e) { /* */ }
  try { return require('/usr/share/nodejs/ws/package.json').version; } catch (e) { return '?'; }
})();

const wss = new WebSocket.Server({
  host: '127.0.0.1',
  port: args.port,
  perMessageDeflate: false,
  maxPayload: args.maxSize,
  clientTracking: true,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', (err) => {
    // A protocol error from the client: ws has already closed with the right code.
    console.error(`ws-node: connection error: ${err.message}`);
  });
});

wss.on('listening', () => {
  console.log(`ws-node: ws ${version} (node ${process.version}) echo on ` +
              `ws://127.0.0.1:${args.port}/ (maxPayload ${args.maxSize})`);
});

wss.on('error', (err) => {
  console.error(`ws-node: ${err.message}`);
  process.exit(1);
});

function shutdown() {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
