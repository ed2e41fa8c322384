// The published Nango frontend client (`@nangohq/frontend` 0.71.10, pinned in package-lock.json)
// in headless Chromium, unchanged but for `host`, against the real local stack and oidc-provider:
// `auth()` through its WebSocket and popup, an API-key `auth()`, a denied consent, and
// `openConnectUI()` embedding Latchkey's Connect page. Screenshots of the Connect page go to
// $LATCHKEY_TEST_OUTPUT/connect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startSuite, openPage, login, approve, outcome, clickConnect } from './stack.mjs';

const OUTPUT = process.env.LATCHKEY_TEST_OUTPUT ?? join(ROOT, 'tests/output');
const SHOTS = join(OUTPUT, 'connect');

let suite;
let browser;
let latchkey;
let app;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  suite = await startSuite();
  ({ browser, latchkey, app } = suite);
  const created = await latchkey.backend('POST', '/integrations', {
    provider: 'openai',
    unique_key: 'openai',
    display_name: 'OpenAI',
    custom: { proxy_base_url: app.providerApi },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
});

after(() => suite?.stop());

const openApp = () => openPage(browser, `${app.origin}/nango.html`);
const publicKeyConfig = () => ({ host: latchkey.host, publicKey: latchkey.keys.public_key });

/** Clicks Connect with this flow; resolves with the popup `auth()` opens. */
async function startPopup(ctx, flow) {
  const popup = ctx.context.waitForEvent('page');
  await clickConnect(ctx.page, flow);
  return popup;
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
    await clickConnect(ctx.page, {
      config: publicKeyConfig(),
      integration: 'openai',
      connectionId,
      options: { credentials: { apiKey } },
    });
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

// ------------------------------------------------------------------ the Connect page

async function newSession(allowed) {
  const r = await latchkey.backend('POST', '/connect/sessions', {
    end_user: { id: 'eu-connect', email: 'eu@example.com' },
    allowed_integrations: allowed,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

const setEnvironment = (patch) => latchkey.setEnvironment(patch);

/** openConnectUI() of the published client, as the team's app calls it. */
async function openConnectUI(ctx, sessionToken) {
  await clickConnect(ctx.page, {
    config: { host: latchkey.host },
    method: 'openConnectUI',
    options: { baseURL: latchkey.host, apiURL: latchkey.host, sessionToken },
  });
  return ctx.page.frameLocator('#connect-ui');
}

const events = (page) => page.evaluate(() => window.events);

/** Runs axe-core (npm, pinned) on the page's frame: no serious or critical violation. */
async function accessible(page, frameUrlPart) {
  const frame = page.frames().find((f) => f.url().includes(frameUrlPart)) ?? page.mainFrame();
  await frame.addScriptTag({ path: join(ROOT, 'tests/browser/node_modules/axe-core/axe.min.js') });
  const result = await frame.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), []);
}

test('openConnectUI() embeds the Connect page: it lists the session\'s integrations, connects through the popup and emits connect and close', async () => {
  await setEnvironment({ allowed_origins: [app.origin], connect_ui: { app_name: 'Acme CRM', primary_color: '#5b4cdb' } });
  try {
    const session = await newSession(['oidc', 'openai']);
    // bypassCSP lets the test inject axe-core; the page's own CSP is checked in the next test.
    const ctx = await openPage(browser, `${app.origin}/nango.html`, { bypassCSP: true });
    const ui = await openConnectUI(ctx, session.token);
    await ui.getByRole('heading', { name: 'Choose an account to connect' }).waitFor();
    await ctx.page.screenshot({ path: join(SHOTS, 'connect-list.png') });
    await accessible(ctx.page, '/connect');
    await ui.getByRole('button', { name: /oidc/ }).click();
    const popupEvent = ctx.context.waitForEvent('page');
    await ui.getByRole('button', { name: 'Continue to oidc' }).click();
    await approve(await popupEvent);
    await ui.getByRole('heading', { name: 'Connected' }).waitFor();
    await ctx.page.screenshot({ path: join(SHOTS, 'connect-success.png') });
    const connect = (await events(ctx.page)).find((e) => e.type === 'connect');
    assert.equal(connect.payload.providerConfigKey, 'oidc');
    assert.match(connect.payload.connectionId, /^[0-9a-f-]{36}$/);
    assert.equal(connect.payload.isPending, false);
    await ui.getByRole('button', { name: 'Done' }).click();
    await ctx.page.waitForFunction(() => !document.getElementById('connect-ui'));
    assert.deepEqual((await events(ctx.page)).map((e) => e.type), ['ready', 'connect', 'close']);
    const conn = await latchkey.backend('GET', `/connections/${connect.payload.connectionId}?provider_config_key=oidc`);
    assert.equal(conn.status, 200);
    assert.equal(conn.body.end_user.id, 'eu-connect');
    await ctx.context.close();
  } finally {
    await setEnvironment({ allowed_origins: [] });
  }
});

test('an API-key integration goes straight to its form; a refused key shows a plain error and emits error, then connects', async () => {
  await setEnvironment({ allowed_origins: [app.origin] });
  try {
    const session = await newSession(['openai']);
    const ctx = await openApp();
    const ui = await openConnectUI(ctx, session.token);
    await ui.getByRole('heading', { name: 'Connect OpenAI' }).waitFor();
    await ui.getByRole('button', { name: 'Connect' }).click();
    await ui.getByText('Enter your api key.').waitFor();
    await ui.getByLabel('API key').fill('wrong-key');
    await ui.getByRole('button', { name: 'Connect' }).click();
    await ui.getByRole('alert').getByText('OpenAI did not accept these details').waitFor();
    await ctx.page.screenshot({ path: join(SHOTS, 'connect-error.png') });
    const error = (await events(ctx.page)).find((e) => e.type === 'error');
    assert.equal(error.payload.errorType, 'connection_test_failed');
    await ui.getByRole('button', { name: 'Try again' }).click();
    await ui.getByLabel('API key').fill('good-key');
    await ui.getByRole('button', { name: 'Connect' }).click();
    await ui.getByRole('heading', { name: 'Connected' }).waitFor();
    const connect = (await events(ctx.page)).find((e) => e.type === 'connect');
    assert.equal(connect.payload.providerConfigKey, 'openai');
    const conn = await latchkey.backend('GET', `/connections/${connect.payload.connectionId}?provider_config_key=openai`);
    assert.deepEqual(conn.body.credentials, { type: 'API_KEY', apiKey: 'good-key' });
    await ctx.context.close();
  } finally {
    await setEnvironment({ allowed_origins: [] });
  }
});

test('a connect_link opens the Connect page: fields of the catalog, checked like the server, and no other site may frame it', async () => {
  const created = await latchkey.backend('POST', '/integrations', {
    provider: 'zendesk',
    unique_key: 'zendesk',
    credentials: { type: 'OAUTH2', client_id: 'c', client_secret: 's' },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const session = await newSession(['zendesk', 'openai']);
  assert.match(session.connect_link, /\/connect\?session_token=lk_cst_/);
  const ctx = await openPage(browser, session.connect_link, { bypassCSP: true });
  assert.ok(!ctx.page.url().includes('session_token'), 'the token left the address bar');
  await ctx.page.getByRole('button', { name: /Zendesk/ }).click();
  await ctx.page.getByLabel('Subdomain').fill('evil.com/x?');
  await ctx.page.getByRole('button', { name: 'Continue to Zendesk' }).click();
  await ctx.page.getByText("This subdomain doesn't look right.").waitFor();
  assert.equal(ctx.context.pages().length, 1, 'no popup for a value the server would refuse');
  await ctx.page.screenshot({ path: join(SHOTS, 'connect-form.png') });
  await accessible(ctx.page, '/connect');
  await ctx.context.close();

  // The page as served: its own CSP, framed by no listed origin (none listed: only itself).
  const page = await fetch(session.connect_link);
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, new RegExp(`frame-ancestors ${latchkey.host}$`));
  assert.match(csp, /script-src 'nonce-[^']+';/);
  assert.equal(page.headers.get('referrer-policy'), 'strict-origin');
  const framed = await openApp();
  // An iframe's load event fires for a refused frame too (on the browser's error page).
  await framed.page.evaluate(
    (src) =>
      new Promise((loaded) => {
        const f = document.createElement('iframe');
        f.onload = loaded;
        f.src = src;
        document.body.append(f);
      }),
    `${latchkey.host}/connect`,
  );
  const rendered = await Promise.all(
    framed.page.frames().map((f) => f.evaluate(() => Boolean(document.getElementById('view-title'))).catch(() => false)),
  );
  assert.deepEqual(rendered, [false, false], 'the app frames no Connect page');
  await framed.context.close();
});
