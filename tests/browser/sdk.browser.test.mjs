// The frontend SDK in a real browser (headless Chromium) against the real local stack and a real
// OAuth server (oidc-provider): what a customer's app sees when its user clicks "Connect".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startSuite, createOidcIntegration, openPage, login, approve, outcome, clickConnect } from './stack.mjs';

const OUTPUT = process.env.LATCHKEY_TEST_OUTPUT ?? join(ROOT, 'tests/output');
const SHOTS = join(OUTPUT, 'browser');
const SESSION_TTL_SECS = 8;

let suite;
let browser;
let latchkey;
let app;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  suite = await startSuite({ connectSessionTtlSecs: SESSION_TTL_SECS });
  ({ browser, latchkey, app } = suite);
  await createOidcIntegration(latchkey, suite.oidc.issuer, 'other');
});

after(() => suite?.stop());

/** A fresh browser profile on the customer app's page (no provider session cookies). */
function openApp(path = '/app.html') {
  return openPage(browser, `${app.origin}${path}`);
}

/** Clicks Connect with this flow and returns the popup (found by the context: a severed
 * popup is no longer the page's `popup`). */
async function start(ctx, flow) {
  const config = flow.config ?? { host: latchkey.host, publicKey: latchkey.keys.public_key };
  const pollIntervalMs = flow.noPolling ? 10 * 60 * 1000 : 300;
  const popup = ctx.context.waitForEvent('page');
  await clickConnect(ctx.page, { ...flow, config: { pollIntervalMs, ...config } });
  return popup;
}

const hmacOf = (message) => createHmac('sha256', latchkey.keys.hmac_key).update(message).digest('hex');

const setEnvironment = (patch) => latchkey.setEnvironment(patch);

test('OAuth in a popup resolves with the connection id, and the backend reads the connection', async () => {
  const ctx = await openApp();
  // Polling off: the callback page's postMessage alone must deliver the result.
  const popup = await start(ctx, { integration: 'oidc', connectionId: 'user-123', noPolling: true });
  await approve(popup);
  const o = await outcome(ctx.page);
  assert.deepEqual(o, { state: 'resolved', result: { providerConfigKey: 'oidc', connectionId: 'user-123' } });
  // The result page spoke Latchkey's message and Nango's, to the app's origin only.
  const messages = await ctx.page.evaluate(() => window.messages);
  assert.deepEqual(
    messages.map((m) => [m.origin, m.data.type]),
    [
      [latchkey.host, 'latchkey:auth:success'],
      [latchkey.host, 'nango_oauth_callback_success'],
    ],
  );
  const conn = await latchkey.backend('GET', '/connections/user-123?provider_config_key=oidc');
  assert.equal(conn.status, 200);
  assert.equal(conn.body.credentials.type, 'OAUTH2');
  assert.ok(conn.body.credentials.access_token);
  await ctx.context.close();
});

test('with the opener severed (COOP), the flow resolves through polling', async () => {
  const ctx = await openApp('/coop/app.html');
  const popup = await start(ctx, { integration: 'oidc', connectionId: 'user-coop' });
  await approve(popup);
  const o = await outcome(ctx.page);
  assert.deepEqual(o, { state: 'resolved', result: { providerConfigKey: 'oidc', connectionId: 'user-coop' } });
  assert.equal(await popup.evaluate(() => window.opener), null, 'the popup really lost its opener');
  // The severed popup stays on the result page: what the person sees.
  await popup.waitForSelector('h1.ok');
  await popup.screenshot({ path: join(SHOTS, 'callback-success.png') });
  const conn = await latchkey.backend('GET', '/connections/user-coop?provider_config_key=oidc');
  assert.equal(conn.status, 200);
  await ctx.context.close();
});

test('API key flow: one POST (CORS preflight included), no popup; a key the provider refuses is typed', async () => {
  const created = await latchkey.backend('POST', '/integrations', {
    provider: 'openai',
    unique_key: 'apikey',
    custom: { proxy_base_url: app.providerApi },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const ctx = await openApp();
  const submit = async (connectionId, apiKey, hmac) => {
    await clickConnect(ctx.page, {
      config: { host: latchkey.host, publicKey: latchkey.keys.public_key },
      integration: 'apikey',
      connectionId,
      options: { credentials: { apiKey }, hmac },
    });
    return outcome(ctx.page);
  };
  assert.deepEqual(await submit('key-user', 'good-key'), {
    state: 'resolved',
    result: { providerConfigKey: 'apikey', connectionId: 'key-user' },
  });
  assert.equal(ctx.context.pages().length, 1, 'no popup');
  const conn = await latchkey.backend('GET', '/connections/key-user?provider_config_key=apikey');
  assert.deepEqual(conn.body.credentials, { type: 'API_KEY', apiKey: 'good-key' });

  const refused = await submit('key-bad', 'wrong-key');
  assert.equal(refused.type, 'connection_test_failed', JSON.stringify(refused));
  assert.equal((await latchkey.backend('GET', '/connections/key-bad?provider_config_key=apikey')).status, 404);

  // HMAC guards the credential routes too.
  await setEnvironment({ hmac_enabled: true });
  try {
    assert.equal((await submit('key-hmac', 'good-key')).type, 'missing_hmac');
    assert.equal((await submit('key-hmac', 'good-key', hmacOf('apikey:other'))).type, 'invalid_hmac');
    assert.equal((await submit('key-hmac', 'good-key', hmacOf('apikey:key-hmac'))).state, 'resolved');
  } finally {
    await setEnvironment({ hmac_enabled: false });
  }
  await ctx.context.close();
});

test('with HMAC on, the right digest works and a wrong or missing one is refused by type', async () => {
  await setEnvironment({ hmac_enabled: true });
  try {
    for (const [hmac, type] of [
      [undefined, 'missing_hmac'],
      [hmacOf('oidc:someone-else'), 'invalid_hmac'],
    ]) {
      const ctx = await openApp();
      // The connect route's error page posts the typed error (polling off to prove it).
      const popup = await start(ctx, { integration: 'oidc', connectionId: 'user-hmac', options: { hmac }, noPolling: true });
      const o = await outcome(ctx.page);
      assert.equal(o.state, 'rejected');
      assert.equal(o.type, type, JSON.stringify(o));
      // The SDK closes the popup; the browser reports it a moment later.
      if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 5000 });
      await ctx.context.close();
    }
    const ctx = await openApp();
    const popup = await start(ctx, {
      integration: 'oidc',
      connectionId: 'user-hmac',
      options: { hmac: hmacOf('oidc:user-hmac') },
    });
    await approve(popup);
    assert.deepEqual(await outcome(ctx.page), {
      state: 'resolved',
      result: { providerConfigKey: 'oidc', connectionId: 'user-hmac' },
    });
    await ctx.context.close();
  } finally {
    await setEnvironment({ hmac_enabled: false });
  }
});

test('a connect session token: server-chosen id, end user stored, integrations and expiry enforced', async () => {
  // Each session is used right after it is made: this stack's sessions live SESSION_TTL_SECS
  // (30 minutes in production).
  const newSession = async (path = '/connect/sessions', body = {
    end_user: { id: 'eu-42', email: 'eu@example.com' },
    organization: { id: 'org-7', display_name: 'Acme' },
    allowed_integrations: ['oidc'],
  }) => {
    const r = await latchkey.backend('POST', path, body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.data.expires_at && r.body.data.connect_link.includes('/connect?session_token='));
    return { host: latchkey.host, connectSessionToken: r.body.data.token };
  };

  // HMAC is on: a session token needs none (the backend vouched for the flow).
  await setEnvironment({ hmac_enabled: true });
  let created;
  try {
    const ctx = await openApp();
    const popup = await start(ctx, { method: 'create', integration: 'oidc', config: await newSession() });
    await approve(popup);
    created = await outcome(ctx.page);
    await ctx.context.close();
  } finally {
    await setEnvironment({ hmac_enabled: false });
  }
  assert.equal(created.state, 'resolved', JSON.stringify(created));
  const id = created.result.connectionId;
  assert.match(id, /^[0-9a-f-]{36}$/, 'the server chose the connection id');
  const listed = await latchkey.backend('GET', '/connections?endUserId=eu-42');
  assert.deepEqual(
    listed.body.connections.map((c) => c.connection_id),
    [id],
  );
  assert.equal(listed.body.connections[0].end_user.organization.id, 'org-7');

  const other = await openApp();
  await start(other, { method: 'create', integration: 'other', config: await newSession() });
  const refused = await outcome(other.page);
  assert.equal(refused.type, 'integration_not_allowed', JSON.stringify(refused));
  await other.context.close();

  // Reconnect: a reconnect session re-authorizes exactly that connection, keeping its end user.
  const rctx = await openApp();
  const rpopup = await start(rctx, {
    method: 'reconnect',
    integration: 'oidc',
    config: await newSession('/connect/sessions/reconnect', { connection_id: id, integration_id: 'oidc' }),
  });
  await approve(rpopup);
  assert.deepEqual(await outcome(rctx.page), { state: 'resolved', result: { providerConfigKey: 'oidc', connectionId: id } });
  await rctx.context.close();
  const after = await latchkey.backend('GET', '/connections?endUserId=eu-42');
  assert.deepEqual(after.body.connections.map((c) => c.connection_id), [id], 'the reconnect kept the end user');

  const stale = await newSession();
  await new Promise((r) => setTimeout(r, (SESSION_TTL_SECS + 1) * 1000));
  const late = await openApp();
  await start(late, { method: 'create', integration: 'oidc', config: stale });
  const expired = await outcome(late.page);
  assert.equal(expired.type, 'expired_connect_session_token', JSON.stringify(expired));
  await late.context.close();
});

test('allowed origins: a listed app gets its result, an unlisted one is refused in the popup', async () => {
  await setEnvironment({ allowed_origins: [app.origin] });
  try {
    const ctx = await openApp();
    const popup = await start(ctx, { integration: 'oidc', connectionId: 'user-listed', noPolling: true });
    await approve(popup);
    assert.deepEqual(await outcome(ctx.page), {
      state: 'resolved',
      result: { providerConfigKey: 'oidc', connectionId: 'user-listed' },
    });
    await ctx.context.close();

    await setEnvironment({ allowed_origins: ['https://app.elsewhere.example'] });
    const refused = await openApp();
    const popup2 = await start(refused, {
      integration: 'oidc',
      connectionId: 'user-unlisted',
      options: { detectClosedAuthWindow: true },
    });
    await popup2.waitForSelector('text=origin_not_allowed');
    // Nothing is posted to, or pollable by, an unlisted origin: the person closes the window.
    assert.deepEqual(await refused.page.evaluate(() => window.outcome), { state: 'pending' });
    await popup2.close();
    assert.equal((await outcome(refused.page)).type, 'window_closed');
    await refused.context.close();
  } finally {
    await setEnvironment({ allowed_origins: [] });
  }
});

test('a closed popup rejects with window_closed only with detectClosedAuthWindow', async () => {
  const asked = await openApp();
  const popup = await start(asked, { integration: 'oidc', connectionId: 'closer', options: { detectClosedAuthWindow: true } });
  await popup.waitForSelector('input[name=login]');
  await popup.close();
  const o = await outcome(asked.page);
  assert.equal(o.type, 'window_closed', JSON.stringify(o));
  await asked.context.close();

  const unasked = await openApp();
  const popup2 = await start(unasked, { integration: 'oidc', connectionId: 'closer' });
  await popup2.waitForSelector('input[name=login]');
  await popup2.close();
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(await unasked.page.evaluate(() => window.outcome), { state: 'pending' }, 'still waiting');
  await unasked.context.close();
});

test('the provider denying consent rejects with access_denied and stores nothing', async () => {
  // From the COOP app: the error also travels by polling, and the severed popup stays open on
  // the result page, as the person sees it.
  const ctx = await openApp('/coop/app.html');
  const popup = await start(ctx, { integration: 'oidc', connectionId: 'denier' });
  await login(popup);
  await popup.click('text=[ Cancel ]');
  const o = await outcome(ctx.page);
  assert.equal(o.state, 'rejected');
  assert.equal(o.type, 'access_denied', JSON.stringify(o));
  await popup.waitForSelector('h1.err');
  await popup.screenshot({ path: join(SHOTS, 'callback-access-denied.png') });
  const conn = await latchkey.backend('GET', '/connections/denier?provider_config_key=oidc');
  assert.equal(conn.status, 404);
  const listed = await latchkey.backend('GET', '/connections?connectionId=denier');
  assert.deepEqual(listed.body.connections, []);
  await ctx.context.close();
});

test('the demo page runs auth() for a configured integration', async () => {
  const context = await browser.newContext();
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  const page = await context.newPage();
  await page.goto(`${latchkey.host}/demo`);
  await page.fill('#public-key', latchkey.keys.public_key);
  await page.fill('#integration', 'oidc');
  await page.fill('#connection-id', 'demo-user');
  // A page of Latchkey's own origin hears the result page on Nango's channel, and its ack
  // closes the popup.
  await page.evaluate(() => {
    window.heard = [];
    const channel = new BroadcastChannel('nango-oauth-callback');
    channel.onmessage = (e) => {
      window.heard.push(e.data);
      channel.postMessage({ type: 'nango_oauth_callback_ack' });
    };
  });
  const popupEvent = context.waitForEvent('page');
  await page.click('#connect');
  const popup = await popupEvent;
  await approve(popup);
  await page.waitForSelector('#result.ok');
  await page.waitForFunction(() => window.heard.length > 0);
  assert.deepEqual(await page.evaluate(() => window.heard), [{ type: 'nango_oauth_callback_success' }]);
  if (!popup.isClosed()) await popup.waitForEvent('close');
  const shown = JSON.parse(await page.textContent('#result'));
  assert.deepEqual(shown, { providerConfigKey: 'oidc', connectionId: 'demo-user' });
  await page.screenshot({ path: join(SHOTS, 'demo.png'), fullPage: true });
  await context.close();
});

test('the demo page does not hang when its popup is closed', async () => {
  const { context, page } = await openPage(browser, `${latchkey.host}/demo`);
  await page.fill('#public-key', latchkey.keys.public_key);
  await page.fill('#integration', 'oidc');
  await page.fill('#connection-id', 'demo-closer');
  const popupEvent = context.waitForEvent('page');
  await page.click('#connect');
  const popup = await popupEvent;
  await popup.waitForSelector('input[name=login]');
  await popup.close();
  await page.waitForSelector('#result.err');
  assert.equal(JSON.parse(await page.textContent('#result')).type, 'window_closed');
  assert.equal(await page.isEnabled('#connect'), true, 'ready for another try');

  // With detection off (a provider that severs its popup), the person stops waiting.
  await page.uncheck('#detect-closed');
  const second = context.waitForEvent('page');
  await page.click('#connect');
  await (await second).close();
  await page.click('#stop');
  assert.equal(JSON.parse(await page.textContent('#result')).type, 'stopped');
  await context.close();
});
