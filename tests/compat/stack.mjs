// What the compatibility suite runs against: the real `latchkey serve` binary (temp data dir,
// free port on 127.0.0.1) and a tiny provider peer standing in for the providers' APIs that
// Latchkey calls while importing connections (credential verification, client-credentials
// token endpoint). Everything binds to 127.0.0.1.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function waitFor(url, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (e) {
      if (Date.now() > until) throw new Error(`${url} did not come up: ${e.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startLatchkey() {
  const binary = process.env.LATCHKEY_BIN ?? join(ROOT, 'target/debug/latchkey');
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-compat-'));
  const port = await freePort();
  const host = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dataDir, 'env')], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((_, reject) => child.on('exit', (code) => reject(new Error(`latchkey exited: ${code}`))));
  await Promise.race([waitFor(`${host}/demo`), exited]);
  const keys = JSON.parse(readFileSync(join(dataDir, 'env', 'environment-keys.json'), 'utf8'));
  return {
    host,
    keys,
    stop() {
      child.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The providers' side: `GET /v1/models` (OpenAI's verification) accepts `Bearer good-key`;
 * `GET /v1/ping` (Aircall's) accepts Basic `good-user:good-pass`; `POST /token` issues a
 * client-credentials token `cc-<n>` (n counts the calls) to client `cc-id`/`cc-secret`.
 */
export async function startProviderPeer() {
  let issued = 0;
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
    json(404, { error: 'no such route' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => server.close() };
}
