// Starts what the browser suite runs against: the real `latchkey serve` binary (temp data dir,
// free port), the oidc-provider peer (tests/peers/oidc), and a tiny "customer app" server on a
// different origin that serves the built SDK and a page with a Connect button.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { ROOT, freePort, waitFor, startLatchkey as startServe } from '../lib/latchkey-serve.mjs';

export { ROOT };
const children = [];

export function stopAll() {
  for (const child of children) child.kill('SIGTERM');
}
process.on('exit', stopAll);

export async function startLatchkey({ connectSessionTtlSecs, consoleSessionTtlSecs, callbackUrl } = {}) {
  const env = {};
  if (connectSessionTtlSecs) env.LATCHKEY_CONNECT_SESSION_TTL_SECS = String(connectSessionTtlSecs);
  if (consoleSessionTtlSecs) env.LATCHKEY_CONSOLE_SESSION_TTL_SECS = String(consoleSessionTtlSecs);
  if (callbackUrl) env.LATCHKEY_CALLBACK_URL = callbackUrl;
  const latchkey = await startServe({ env, label: 'latchkey-browser' });
  const { host, keys } = latchkey;
  if (!latchkey.firstStart.includes(keys.public_key)) throw new Error('the first start did not print the public key');
  const backend = async (method, path, body) => {
    const r = await fetch(`${host}${path}`, {
      method,
      headers: { Authorization: `Bearer ${keys.secret_key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json().catch(() => null);
    return { status: r.status, body: json };
  };
  const setEnvironment = async (patch) => {
    const r = await backend('PATCH', '/environment', patch);
    if (r.status !== 200) throw new Error(`PATCH /environment ${JSON.stringify(patch)}: ${JSON.stringify(r.body)}`);
  };
  return { host, keys, backend, setEnvironment, stop: () => latchkey.stop() };
}

export async function startOidc() {
  const script = process.env.LATCHKEY_OIDC_PEER ?? join(ROOT, 'tests/peers/oidc/server.mjs');
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.ready) resolve(msg);
      } catch {
        /* other output */
      }
    });
    child.on('exit', (code) => reject(new Error(`oidc peer exited with ${code}`)));
  });
  return { issuer: ready.issuer, stop: () => child.kill('SIGTERM') };
}

/**
 * Registers an OAuth client at the peer (dynamic registration). `redirectUri`: the callback URL
 * registered with the provider (default: this stack's own).
 */
export async function registerOidcClient(latchkey, issuer, { redirectUri } = {}) {
  const reg = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [redirectUri ?? `${latchkey.host}/oauth/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }),
  });
  if (reg.status !== 201) throw new Error(`client registration failed: ${reg.status} ${await reg.text()}`);
  return reg.json();
}

/** Registers an OAuth client at the peer and creates the integration (`redirectUri`: as above). */
export async function createOidcIntegration(latchkey, issuer, uniqueKey, { redirectUri } = {}) {
  const client = await registerOidcClient(latchkey, issuer, { redirectUri });
  const created = await latchkey.backend('POST', '/integrations', {
    provider: 'custom-oauth2',
    unique_key: uniqueKey,
    credentials: {
      type: 'OAUTH2',
      client_id: client.client_id,
      client_secret: client.client_secret,
      scopes: 'openid offline_access',
    },
    custom: {
      authorization_url: `${issuer}/auth`,
      token_url: `${issuer}/token`,
      authorization_params: { prompt: 'consent' },
    },
  });
  if (created.status !== 200) throw new Error(`integration not created: ${JSON.stringify(created.body)}`);
}

const APP_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer app</title></head>
<body><h1>Customer app</h1><button id="go">Connect</button>
<script type="module">
import { Latchkey } from '/sdk/index.js';
window.outcome = null;
// Every message the page receives, as the SDK's and other listeners would see them.
window.messages = [];
window.addEventListener('message', (e) => window.messages.push({ origin: e.origin, data: e.data }));
document.getElementById('go').addEventListener('click', () => {
  const f = window.flow;
  const latchkey = new Latchkey(f.config);
  window.outcome = { state: 'pending' };
  const p = f.method === 'create' ? latchkey.create(f.integration, f.options)
    : f.method === 'reconnect' ? latchkey.reconnect(f.integration, f.options)
    : latchkey.auth(f.integration, f.connectionId, f.options);
  p.then((result) => { window.outcome = { state: 'resolved', result }; },
         (e) => { window.outcome = { state: 'rejected', type: e.type, message: e.message }; });
});
</script></body></html>`;

/** The same app written against the published Nango client (`@nangohq/frontend`, pinned in
 * package-lock.json), unchanged but for `host`: `auth()`, and `openConnectUI()` whose events are
 * kept in `window.events`. */
const NANGO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer app (Nango client)</title></head>
<body><h1>Customer app</h1><button id="go">Connect</button>
<script type="module">
import Nango from '/nango/index.js';
window.outcome = null;
window.events = [];
document.getElementById('go').addEventListener('click', () => {
  const f = window.flow;
  const nango = new Nango(f.config);
  window.outcome = { state: 'pending' };
  if (f.method === 'openConnectUI') {
    window.connectUI = nango.openConnectUI({ ...f.options, onEvent: (e) => { window.events.push(e); } });
    return;
  }
  nango.auth(f.integration, f.connectionId, f.options).then(
    (result) => { window.outcome = { state: 'resolved', result }; },
    (e) => { window.outcome = { state: 'rejected', type: e.type, message: e.message }; });
});
</script></body></html>`;

const NANGO_DIST = join(ROOT, 'tests/browser/node_modules/@nangohq/frontend/dist');

/**
 * The team's web app, on its own origin (`localhost`, not `127.0.0.1`): `/app.html`, and
 * `/coop/app.html` served with `Cross-Origin-Opener-Policy: same-origin`, which severs the
 * popup's `opener` as a provider's COOP would.
 */
export async function startApp() {
  const sdk = readFileSync(join(ROOT, 'sdk/frontend/dist/index.js'));
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    // A provider API for API-key integrations (the catalog's `openai`, its base URL pointed
    // here): it accepts exactly one key.
    if (path === '/v1/models') {
      const ok = req.headers.authorization === 'Bearer good-key';
      res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
      return res.end(ok ? '{"data":[]}' : '{"error":"invalid key"}');
    }
    if (path === '/sdk/index.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return res.end(sdk);
    }
    if (path.startsWith('/nango/') && /^[a-zA-Z]+\.js$/.test(path.slice(7)) && existsSync(join(NANGO_DIST, path.slice(7)))) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return res.end(readFileSync(join(NANGO_DIST, path.slice(7))));
    }
    if (path === '/nango.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(NANGO_PAGE);
    }
    if (path === '/app.html' || path === '/coop/app.html') {
      const headers = { 'Content-Type': 'text/html; charset=utf-8' };
      if (path.startsWith('/coop/')) headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      res.writeHead(200, headers);
      return res.end(APP_PAGE);
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    origin: `http://localhost:${port}`,
    providerApi: `http://127.0.0.1:${port}`,
    stop: () => server.close(),
  };
}

/** Headless Debian Chromium, as every browser suite launches it. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** A fresh browser profile (no provider session cookies) on `url`. */
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  // The provider's dev pages import a web font; there is no internet here.
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

/** Signs in at oidc-provider's dev login page, up to its consent screen. */
export async function login(popup, user = 'alice') {
  await popup.waitForSelector('input[name=login]');
  await popup.fill('input[name=login]', user);
  await popup.fill('input[name=password]', 'x');
  await popup.click('button[type=submit]');
  await popup.waitForSelector('text=Continue');
}

/** Signs in and grants consent. */
export async function approve(popup, user) {
  await login(popup, user);
  await popup.click('text=Continue');
}

/** The app page's `window.outcome` once its flow settled (resolved or rejected). */
export async function outcome(page, ms = 20000) {
  await page.waitForFunction(() => window.outcome && window.outcome.state !== 'pending', null, { timeout: ms });
  return page.evaluate(() => window.outcome);
}

/**
 * What each browser suite runs against: latchkey (`latchkeyOptions`), the OAuth peer with one
 * integration `oidc` for it, the customer app, and Chromium. `stop()` ends them all.
 */
export async function startSuite(latchkeyOptions = {}) {
  const [latchkey, oidc, app] = await Promise.all([startLatchkey(latchkeyOptions), startOidc(), startApp()]);
  await createOidcIntegration(latchkey, oidc.issuer, 'oidc');
  const browser = await launchChromium();
  const stop = async () => {
    await browser.close();
    latchkey.stop();
    oidc.stop();
    app.stop();
    stopAll();
  };
  return { latchkey, oidc, app, browser, stop };
}

/** Clicks the app page's Connect button for `flow` (read by the page from `window.flow`). */
export async function clickConnect(page, flow) {
  await page.evaluate((f) => (window.flow = f), flow);
  await page.click('#go');
}
