// The OAuth server peer of Latchkey's end-to-end tests: the certified `oidc-provider` with its
// dev login/consent pages, open dynamic client registration (each test registers its own
// client), client credentials and rotating refresh tokens. Listens on 127.0.0.1, port 0 unless
// PORT is set, prints one JSON line `{"ready":true,"issuer":…}` on stdout, and exits when its
// stdin closes (the test process that started it has gone).
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

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
// stdout carries only the ready line: the provider's own notices go to stderr.
console.log = console.info = console.error;
process.stdout.on('error', () => {});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
