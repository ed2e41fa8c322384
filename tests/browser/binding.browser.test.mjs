// The browser binding of OAuth flows in a real browser (headless Chromium): `/oauth/connect`
// sets an HttpOnly, SameSite=Lax cookie scoped to the callback, and the callback requires it.
// - Login CSRF: a callback URL opened in another browser (a victim's) is refused, stores
//   nothing, and the flow still completes where it started.
// - A custom callback domain: providers send the browser to the operator's own domain, whose
//   `callback-redirect` answers 308 to the API's callback. The cookie is the API's; SameSite=Lax
//   sends it on that cross-site top-level GET (a 308 keeps the method), so the SDK's popup flow
//   completes through the redirect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { startLatchkey, startOidc, startApp, createOidcIntegration, stopAll } from './stack.mjs';

let browser;
let latchkey;
let oidc;
let app;

before(async () => {
  [latchkey, oidc, app] = await Promise.all([startLatchkey(), startOidc(), startApp()]);
  await createOidcIntegration(latchkey, oidc.issuer, 'oidc');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  for (const peer of [latchkey, oidc, app]) peer?.stop();
  stopAll();
});

/** A browser profile of its own: its own cookies, as another person's browser has. */
async function newProfile() {
  const context = await browser.newContext();
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  return context;
}

async function approve(page, user) {
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', 'x');
  await page.click('button[type=submit]');
  await page.click('text=Continue');
}


test('a callback opened in a browser without the flow cookie is refused (login CSRF)', async () => {
  // The attacker completes the provider's consent but keeps the callback URL instead of opening
  // it. (Chromium's own request interception: the callback is a redirect target, which
  // Playwright's routes do not see.)
  const attacker = await browser.newContext();
  const page = await attacker.newPage();
  const cdp = await attacker.newCDPSession(page);
  let captured;
  const callbackReached = new Promise((resolve) => {
    cdp.on('Fetch.requestPaused', async (e) => {
      captured = e.request.url;
      await cdp.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'Aborted' });
      resolve();
    });
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/oauth/callback?*', requestStage: 'Request' }] });
  const connect = `${latchkey.host}/oauth/connect/oidc?connection_id=csrf-target&public_key=${latchkey.keys.public_key}`;
  await page.goto(connect);
  const [cookie] = (await attacker.cookies(`${latchkey.host}/oauth/callback`)).filter((c) => c.name.startsWith('latchkey_flow_'));
  assert.ok(cookie, 'connect set the flow cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/oauth/callback');
  await approve(page, 'mallory');
  await callbackReached;
  await cdp.send('Fetch.disable');

  // The victim's browser opens the forwarded link: no cookie, refused.
  const victim = await newProfile();
  const vpage = await victim.newPage();
  const response = await vpage.goto(captured);
  assert.equal(response.status(), 400);
  await vpage.waitForSelector('h1.err');
  assert.match(await vpage.textContent('main'), /state_err/);
  assert.match(await vpage.textContent('main'), /another browser/);
  const none = await latchkey.backend('GET', '/connections/csrf-target?provider_config_key=oidc');
  assert.equal(none.status, 404, 'nothing stored');
  await victim.close();

  // The flow was not spent: in the attacker's own browser (which has the cookie) it completes.
  const own = await page.goto(captured);
  assert.equal(own.status(), 200);
  await page.waitForSelector('h1.ok');
  assert.equal(
    (await attacker.cookies(`${latchkey.host}/oauth/callback`)).filter((c) => c.name === cookie.name).length,
    0,
    'the callback cleared the cookie',
  );
  await attacker.close();
});

/** `functions/callback-redirect` as it answers on the operator's domain: 308 to the API's
 * callback, the query kept byte for byte. Counts what it redirected. */
async function startCallbackRedirect() {
  let target = null;
  let redirected = 0;
  const server = createServer((req, res) => {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    redirected += 1;
    res.writeHead(308, {
      Location: query ? `${target}?${query}` : target,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
    });
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    // Another site than the API's (localhost vs 127.0.0.1), as an operator's own domain is.
    url: `http://localhost:${server.address().port}/oauth/callback`,
    setTarget: (t) => (target = t),
    redirected: () => redirected,
    stop: () => server.close(),
  };
}

test('through a custom callback domain and its 308, the SDK popup flow completes with the cookie', async () => {
  const redirector = await startCallbackRedirect();
  const api = await startLatchkey({ callbackUrl: redirector.url });
  redirector.setTarget(`${api.host}/oauth/callback`);
  try {
    await createOidcIntegration(api, oidc.issuer, 'branded', { redirectUri: redirector.url });
    const context = await newProfile();
    const page = await context.newPage();
    await page.goto(`${app.origin}/app.html`);
    await page.evaluate(
      (f) => (window.flow = f),
      { config: { host: api.host, publicKey: api.keys.public_key, pollIntervalMs: 600000 }, integration: 'branded', connectionId: 'via-domain' },
    );
    const popupEvent = context.waitForEvent('page');
    await page.click('#go');
    const popup = await popupEvent;
    await approve(popup, 'alice');
    await page.waitForFunction(() => window.outcome && window.outcome.state !== 'pending', null, { timeout: 20000 });
    assert.deepEqual(await page.evaluate(() => window.outcome), {
      state: 'resolved',
      result: { providerConfigKey: 'branded', connectionId: 'via-domain' },
    });
    assert.equal(redirector.redirected(), 1, 'the provider sent the browser to the operator domain first');
    const conn = await api.backend('GET', '/connections/via-domain?provider_config_key=branded');
    assert.equal(conn.status, 200);
    await context.close();
  } finally {
    api.stop();
    redirector.stop();
  }
});
