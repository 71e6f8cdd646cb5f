// A real Bluesky Personal Data Server for the tests, on 127.0.0.1 only.
//
//   node tests/bluesky/pds.mjs            (started by the pds fixture of tests/channels/test_bluesky.py)
//
// Starts @atproto/dev-env's TestNetworkNoAppView (an in-memory PLC directory and a PDS on
// SQLite) from the npm cache that scripts/install-test-deps.sh fills ($CP_NODE_CACHE, default
// $HOME/.cache/campaign-publisher), then prints one JSON line to stdout:
//
//   {"pds": "http://localhost:PORT", "plc": "http://127.0.0.1:PORT", "appview": "http://127.0.0.1:PORT"}
//
// and serves until its standard input closes (the test process ended) or it gets SIGTERM.
//
// Nothing leaves the machine: every server listens on 127.0.0.1 (dev-env's servers would
// listen on every interface), and the AppView, moderation and CDN hosts, which dev-env
// names *.invalid, point at a stub on loopback that answers "MethodNotImplemented".
// Data goes to os.tmpdir(): the fixture sets TMPDIR to a temporary directory.
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const LOOPBACK = '127.0.0.1';

// Force every listening socket of this process onto loopback. express's app.listen(port)
// and the PLC server's listen(port) pass no host, which means every interface.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK);
  } else if (args[0] && typeof args[0] === 'object' && !args[0].path) {
    args[0] = { ...args[0], host: LOOPBACK };
  }
  return listen.apply(this, args);
};

const cache = process.env.CP_NODE_CACHE || path.join(os.homedir(), '.cache', 'campaign-publisher');
const require = createRequire(path.join(cache, 'node_modules', 'noop.js'));
let devEnv;
try {
  devEnv = require('@atproto/dev-env');
} catch (err) {
  process.stderr.write(
    `@atproto/dev-env is not installed in ${cache}/node_modules: run scripts/install-test-deps.sh\n`,
  );
  process.exit(3);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, LOOPBACK, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// The AppView / moderation / CDN stand-in: says it serves nothing, so no XRPC call is
// proxied off the machine.
function startStub() {
  const server = http.createServer((req, res) => {
    res.writeHead(501, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'MethodNotImplemented', message: 'no AppView in tests' }));
  });
  return new Promise((resolve) => {
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}

const stub = await startStub();
const stubUrl = `http://${LOOPBACK}:${stub.address().port}`;
const [plcPort, pdsPort] = [await freePort(), await freePort()];

const network = await devEnv.TestNetworkNoAppView.create({
  plc: { port: plcPort },
  pds: {
    port: pdsPort,
    hostname: 'localhost',
    bskyAppViewUrl: stubUrl,
    bskyAppViewDid: 'did:web:localhost',
    bskyAppViewCdnUrlPattern: `${stubUrl}/img/%s/plain/%s/%s@jpeg`,
    modServiceUrl: stubUrl,
    modServiceDid: 'did:web:localhost',
    reportServiceUrl: stubUrl,
    reportServiceDid: 'did:web:localhost',
    crawlers: [],
    // As on a real PDS: createSession 30 per 5 minutes per handle, writes per hour, ...
    rateLimitsEnabled: true,
  },
});

process.stdout.write(
  JSON.stringify({ pds: network.pds.url, plc: network.plc.url, appview: stubUrl }) + '\n',
);

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  try {
    await network.close();
  } finally {
    stub.close();
    process.exit(0);
  }
}
process.on('SIGTERM', close);
process.on('SIGINT', close);
process.stdin.on('end', close);
process.stdin.on('close', close);
process.stdin.resume();
