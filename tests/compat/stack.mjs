// What the compatibility suite runs against: the real `latchkey serve` binary (temp data dir,
// free port on 127.0.0.1) and a tiny provider peer standing in for the providers' APIs that
// Latchkey calls while importing connections (credential verification, client-credentials
// token endpoint). Everything binds to 127.0.0.1.
import { createServer } from 'node:http';
import { startLatchkey as startServe } from '../lib/latchkey-serve.mjs';

export { ROOT } from '../lib/latchkey-serve.mjs';

export function startLatchkey() {
  return startServe({ label: 'latchkey-compat' });
}

/**
 * The providers' side: `GET /v1/models` (OpenAI's verification) accepts `Bearer good-key`;
 * `GET /v1/ping` (Aircall's) accepts Basic `good-user:good-pass`; `POST /token` issues a
 * client-credentials token `cc-<n>` (n counts the calls) to client `cc-id`/`cc-secret`;
 * `POST /oauth/token` answers the refresh-token grant of client `cid`/`cs` as a rotating
 * provider does: each refresh token it issued works once (`rt-0` from the start), any other is
 * `invalid_grant`; `refreshes()` counts the grants it answered.
 */
export async function startProviderPeer() {
  let issued = 0;
  let refreshes = 0;
  const live = new Set(['rt-0']);
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/v1/models') {
      return req.headers.authorization === 'Bearer good-key' ? json(200, { data: [] }) : json(401, { error: 'bad key' });
    }
    if (path === '/v1/ping') {
      const good = `Basic ${Buffer.from('good-user:good-pass').toString('base64')}`;
      return req.headers.authorization === good ? json(200, { ping: 'pong' }) : json(401, { error: 'bad login' });
    }
    if (path === '/token' && req.method === 'POST') {
      const good = `Basic ${Buffer.from('cc-id:cc-secret').toString('base64')}`;
      if (req.headers.authorization !== good) return json(401, { error: 'invalid_client' });
      issued += 1;
      return json(200, { access_token: `cc-${issued}`, token_type: 'bearer', expires_in: 3600 });
    }
    if (path === '/oauth/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('client_id') !== 'cid' || form.get('client_secret') !== 'cs') return json(401, { error: 'invalid_client' });
        const token = form.get('refresh_token');
        if (form.get('grant_type') !== 'refresh_token' || !live.delete(token)) {
          return json(400, { error: 'invalid_grant', error_description: 'refresh token unknown, used or revoked' });
        }
        refreshes += 1;
        live.add(`rt-${refreshes}`);
        json(200, { access_token: `at-${refreshes}`, refresh_token: `rt-${refreshes}`, token_type: 'bearer', expires_in: 3600 });
      });
      return;
    }
    json(404, { error: 'no such route' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, refreshes: () => refreshes, stop: () => server.close() };
}
