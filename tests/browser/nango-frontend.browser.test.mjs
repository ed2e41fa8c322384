// The published Nango frontend client (`@nangohq/frontend` 0.71.10, pinned in package-lock.json)
// in headless Chromium, unchanged but for `host`, against the real local stack and oidc-provider:
// `auth()` through its WebSocket and popup, an API-key `auth()`, a denied consent, and
// `openConnectUI()` embedding Latchkey's Connect page. Screenshots of the Connect page go to
// $LATCHKEY_TEST_OUTPUT/connect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  startLatchkey,
  startOidc,
  startApp,
  createOidcIntegration,
  stopAll,
  launchChromium,
  openPage,
  login,
  approve,
} from './stack.mjs';

const OUTPUT = process.env.LATCHKEY_TEST_OUTPUT ?? join(ROOT, 'tests/output');
const SHOTS = join(OUTPUT, 'connect');

let browser;
let latchkey;
let oidc;
let app;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [latchkey, oidc, app] = await Promise.all([startLatchkey(), startOidc(), startApp()]);
  await createOidcIntegration(latchkey, oidc.issuer, 'oidc');
  const created = await latchkey.backend('POST', '/integrations', {
    provider: 'openai',
    unique_key: 'openai',
    display_name: 'OpenAI',
    custom: { proxy_base_url: app.providerApi },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  latchkey?.stop();
  oidc?.stop();
  app?.stop();
  stopAll();
});

const openApp = () => openPage(browser, `${app.origin}/nango.html`);
const publicKeyConfig = () => ({ host: latchkey.host, publicKey: latchkey.keys.public_key });

/** Clicks Connect with this flow; resolves with the popup `auth()` opens. */
async function startPopup(ctx, flow) {
  await ctx.page.evaluate((f) => (window.flow = f), flow);
  const popup = ctx.context.waitForEvent('page');
  await ctx.page.click('#go');
  return popup;
}

async function outcome(page, ms = 20000) {
  await page.waitForFunction(() => window.outcome && window.outcome.state !== 'pending', null, { timeout: ms });
  return page.evaluate(() => window.outcome);
}

test('auth() opens its socket, gets a ws_client_id, and resolves with the connection through the popup', async () => {
  const ctx = await openApp();
  const sockets = [];
  ctx.page.on('websocket', (ws) => sockets.push(ws.url()));
  const popup = await startPopup(ctx, {
    config: publicKeyConfig(),
    integration: 'oidc',
    connectionId: 'nango-user',
    options: {},
  });
  await approve(popup);
  assert.deepEqual(await outcome(ctx.page), {
    state: 'resolved',
    result: { providerConfigKey: 'oidc', connectionId: 'nango-user', isPending: false },
  });
  assert.deepEqual(sockets, [latchkey.host.replace('http://', 'ws://') + '/']);
  const conn = await latchkey.backend('GET', '/connections/nango-user?provider_config_key=oidc');
  assert.equal(conn.status, 200);
  assert.ok(conn.body.credentials.access_token);
  await ctx.context.close();
});

test('an API-key auth() resolves with one POST, and a key the provider refuses rejects by type', async () => {
  const ctx = await openApp();
  const submit = async (connectionId, apiKey) => {
    await ctx.page.evaluate((f) => (window.flow = f), {
      config: publicKeyConfig(),
      integration: 'openai',
      connectionId,
      options: { credentials: { apiKey } },
    });
    await ctx.page.click('#go');
    return outcome(ctx.page);
  };
  assert.deepEqual(await submit('nango-key', 'good-key'), {
    state: 'resolved',
    result: { providerConfigKey: 'openai', connectionId: 'nango-key' },
  });
  assert.equal(ctx.context.pages().length, 1, 'no popup');
  const refused = await submit('nango-bad-key', 'wrong-key');
  assert.equal(refused.type, 'connection_test_failed', JSON.stringify(refused));
  await ctx.context.close();
});

test('a denied consent rejects auth() with access_denied', async () => {
  const ctx = await openApp();
  const popup = await startPopup(ctx, {
    config: publicKeyConfig(),
    integration: 'oidc',
    connectionId: 'nango-denier',
    options: {},
  });
  await login(popup);
  await popup.click('text=[ Cancel ]');
  const o = await outcome(ctx.page);
  assert.equal(o.state, 'rejected');
  assert.equal(o.type, 'access_denied', JSON.stringify(o));
  assert.equal((await latchkey.backend('GET', '/connections/nango-denier?provider_config_key=oidc')).status, 404);
  await ctx.context.close();
});

test('a refused connect request (wrong public key) reaches auth() as its error type', async () => {
  const ctx = await openApp();
  await startPopup(ctx, {
    config: { host: latchkey.host, publicKey: 'lk_pk_wrong' },
    integration: 'oidc',
    connectionId: 'nango-wrong-key',
    options: {},
  });
  const o = await outcome(ctx.page);
  assert.equal(o.type, 'invalid_auth_token', JSON.stringify(o));
  await ctx.context.close();
});
