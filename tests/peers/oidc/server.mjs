// The OAuth server peer of Latchkey's end-to-end tests: the certified `oidc-provider` with its
// dev login/consent pages, open dynamic client registration (each test registers its own
// client), client credentials and rotating refresh tokens. Listens on 127.0.0.1, port 0 unless
// PORT is set, prints one JSON line `{"ready":true,"issuer":…}` on stdout, and exits when its
// stdin pipe closes (the test process that started it has gone; started by hand, in the
// foreground or the background, it runs until stopped). ACCESS_TOKEN_TTL (seconds, default one
// hour) shortens access tokens, to try expiry and refresh. `GET /__test/stats/<client_id>` answers what the provider did for a client
// (`{refresh_grants, revoked_grants}`), counted from its own events, so tests check what the
// provider saw rather than what Latchkey says it did.
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
  },
  rotateRefreshToken: true,
  // Access tokens of the code flow and of client credentials alike.
  ...(process.env.ACCESS_TOKEN_TTL
    ? { ttl: { AccessToken: Number(process.env.ACCESS_TOKEN_TTL), ClientCredentials: Number(process.env.ACCESS_TOKEN_TTL) } }
    : {}),
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test`, email_verified: true, name: id };
      },
    };
  },
  // Refresh tokens for every client that asks for offline_access (the default wants a
  // native-app or an explicit consent prompt: the tests send prompt=consent anyway).
  issueRefreshToken: async (ctx, client, code) =>
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
});
// Interaction details are unimportant here; keep the log quiet unless debugging.
provider.on('server_error', (ctx, err) => console.error('oidc server_error', err));

// What the provider did, per client.
const stats = new Map();
const statsOf = (clientId) => {
  if (!stats.has(clientId)) stats.set(clientId, { refresh_grants: 0, revoked_grants: 0 });
  return stats.get(clientId);
};
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') statsOf(ctx.oidc.client.clientId).refresh_grants += 1;
});
provider.on('grant.revoked', (ctx) => {
  if (ctx.oidc.client) statsOf(ctx.oidc.client.clientId).revoked_grants += 1;
});

const callback = provider.callback();
server.on('request', (req, res) => {
  const match = /^\/__test\/stats\/([^/?]+)$/.exec(req.url);
  if (!match) return callback(req, res);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(statsOf(decodeURIComponent(match[1]))));
});
process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
// stdout carries only the ready line: the provider's own notices go to stderr.
console.log = console.info = console.error;
process.stdout.on('error', () => {});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test process that started it holds a pipe to its stdin: when that closes, the test has
// gone. Started by hand — in the background (stdin /dev/null or the terminal) — it runs until
// stopped: reading a terminal from the background would suspend it, and /dev/null is closed at once.
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
