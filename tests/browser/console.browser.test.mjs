// The operator console in a real browser (headless Chromium) against the real local stack and a
// real OAuth server (oidc-provider): every tab end to end, the session and CSRF rules, no
// serious or critical accessibility violation (axe-core) on any page, no page over 100 KB, and
// screenshots of each page at desktop and phone sizes in $LATCHKEY_TEST_OUTPUT/console.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, startLatchkey, startOidc, startApp, registerOidcClient, stopAll } from './stack.mjs';

const OUTPUT = process.env.LATCHKEY_TEST_OUTPUT ?? join(ROOT, 'tests/output');
const SHOTS = join(OUTPUT, 'console');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHORT_SESSION_SECS = 3;
const PAGE_BUDGET = 100 * 1024;

let browser;
let latchkey;
let shortLived;
let oidc;
let app;
let operator; // { context, page } signed in to `latchkey`
let expiring; // { context, page } signed in to `shortLived`, left to expire
const weights = {};
const cspViolations = [];

async function newContext() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // The provider's dev pages import a web font; there is no internet here.
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  context.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`${msg.location().url}: ${msg.text()}`);
  });
  return context;
}

async function signIn(stack, context) {
  const page = await context.newPage();
  await page.goto(`${stack.host}/console`);
  assert.match(page.url(), /\/console\/sign-in/);
  await page.fill('#secret_key', stack.keys.secret_key);
  await Promise.all([page.waitForURL(/\/console\/integrations/), page.click('button[type=submit]')]);
  return page;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [latchkey, shortLived, oidc, app] = await Promise.all([
    startLatchkey(),
    startLatchkey({ consoleSessionTtlSecs: SHORT_SESSION_SECS }),
    startOidc(),
    startApp(),
  ]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  // Signed in first, checked last: the suite's own run time lets the session expire.
  const context = await newContext();
  const page = await signIn(shortLived, context);
  const [cookie] = await context.cookies(shortLived.host);
  const csrf = await page.getAttribute('meta[name="latchkey-console"]', 'data-csrf');
  expiring = { context, page, cookie, csrf, at: Date.now() };
});

after(async () => {
  writeFileSync(join(SHOTS, 'page-weights.json'), JSON.stringify(weights, null, 2));
  await browser?.close();
  for (const s of [latchkey, shortLived, oidc, app]) s?.stop();
  stopAll();
});

/** axe-core on the page (injected through the debugging protocol, which the page's CSP does
 * not govern), then desktop and phone screenshots, and the page's weight. */
async function check(page, name) {
  await page.evaluate(`${AXE};0`);
  const { violations } = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `${name}: accessibility violations`,
  );
  // Bytes before compression: the document, and with everything it loaded (CSS, scripts).
  const sizes = await page.evaluate(() => {
    const [nav] = performance.getEntriesByType('navigation');
    const resources = performance.getEntriesByType('resource').reduce((n, r) => n + r.decodedBodySize, 0);
    return { document: nav.decodedBodySize, total: nav.decodedBodySize + resources };
  });
  weights[name] = sizes;
  assert.ok(sizes.document > 0 && sizes.total < PAGE_BUDGET, `${name}: ${JSON.stringify(sizes)}`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, `${name} scrolls sideways on a phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Signs in at the provider, unless it still knows this browser (then it asks for consent). */
async function login(popup, user) {
  const form = popup.locator('input[name=login]');
  await form.or(popup.locator('text=Continue')).first().waitFor();
  if (!(await form.isVisible())) return;
  await popup.fill('input[name=login]', user);
  await popup.fill('input[name=password]', 'x');
  await popup.click('button[type=submit]');
  await popup.waitForSelector('text=Continue');
}

/** The result the Test connect page shows. */
async function connectResult(page) {
  await page.waitForFunction(() => {
    const r = document.querySelector('#connect-result .notice');
    return r && !/Connecting/.test(r.textContent);
  }, null, { timeout: 60000 });
  return page.textContent('#connect-result');
}

async function fetchAs(page, path, init) {
  return page.evaluate(
    async ([path, init]) => {
      const r = await fetch(path, init);
      return { status: r.status, text: await r.text() };
    },
    [path, init],
  );
}

test('sign in: a wrong key is refused, the right one opens a session the page script cannot read', async () => {
  const context = await newContext();
  const page = await context.newPage();
  const response = await page.goto(`${latchkey.host}/`);
  assert.match(page.url(), /\/console\/sign-in\?reason=required/);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await check(page, 'sign-in');
  await page.fill('#secret_key', 'lk_sk_not_the_key');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.notice.err'), /not this environment's secret key/);
  await page.fill('#secret_key', latchkey.keys.secret_key);
  await Promise.all([page.waitForURL(/\/console\/integrations/), page.click('button[type=submit]')]);
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, 'latchkey_console');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session is not readable by script');
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /lk_sk_/);
  const html = await page.content();
  assert.ok(!html.includes(latchkey.keys.secret_key), 'the secret key is not in the page');
  operator = { context, page };
  await check(page, 'integrations-empty');
});

test('an OAuth integration is created from the catalog and test-connected through the popup', async () => {
  const { page } = operator;
  await page.click('text=Add an integration');
  await check(page, 'catalog-all');
  await page.fill('#q', 'zendesk');
  await page.waitForSelector('#catalog-results >> text=Zendesk');
  assert.match(page.url(), /q=zendesk/, 'the live search keeps the URL');
  await check(page, 'catalog');
  await page.click('text=Your own OAuth 2.0 server');
  const client = await registerOidcClient(latchkey, oidc.issuer);
  await page.fill('#f-unique_key', 'my-idp');
  await page.fill('#f-display_name', 'My identity server');
  await page.fill('#f-client_id', client.client_id);
  await page.fill('#f-client_secret', client.client_secret);
  await page.fill('#f-scopes', 'openid offline_access');
  await page.fill('#f-custom_authorization_url', `${oidc.issuer}/auth`);
  await page.fill('#f-custom_token_url', `${oidc.issuer}/token`);
  await page.fill('#f-custom_authorization_params', '{"prompt":"consent"}');
  await check(page, 'integration-new');
  await Promise.all([page.waitForURL(/\/console\/integrations\/my-idp\?notice=created/), page.click('text=Create integration')]);
  assert.match(await page.textContent('.notice.ok'), /Integration created/);
  assert.equal(await page.textContent('#callback-url'), `${latchkey.host}/oauth/callback`);
  assert.equal(await page.inputValue('#f-client_secret'), '', 'the client secret is write-only');
  assert.ok(!(await page.content()).includes(client.client_secret));
  await check(page, 'integration');

  await page.click('text=Test connect');
  await page.waitForSelector('#test-connect');
  const connectionId = await page.inputValue('#connection_id');
  await check(page, 'test-connect');
  const popup = page.waitForEvent('popup');
  await page.click('#connect-button');
  const window = await popup;
  await login(window, 'operator');
  await window.click('text=Continue');
  assert.match(await connectResult(page), new RegExp(`Connected: connection ${connectionId}`));
  const stored = await latchkey.backend('GET', `/connections/${connectionId}?provider_config_key=my-idp`);
  assert.equal(stored.status, 200);
  assert.ok(stored.body.credentials.access_token);
});

test('the connection is listed and its masked credentials revealed on request, the reveal recorded', async () => {
  const { page } = operator;
  await page.click('nav >> text=Connections');
  await page.fill('#q', 'console-test');
  await page.click('form.filters button[type=submit]');
  const link = page.locator('tbody a').first();
  const connectionId = (await link.textContent()).trim();
  await check(page, 'connections');
  await link.click();
  await page.waitForSelector('#credentials');
  const masked = await page.textContent('#credentials');
  assert.match(masked, /••••••••/);
  const token = (await latchkey.backend('GET', `/connections/${connectionId}?provider_config_key=my-idp`)).body.credentials.access_token;
  assert.ok(!(await page.content()).includes(token), 'credentials are masked');
  await check(page, 'connection');
  await page.click('text=Reveal credentials');
  await page.waitForSelector('#credentials code.secret');
  assert.ok((await page.textContent('#credentials')).includes(token));
  await page.click('text=Refresh now');
  assert.match(await page.textContent('.notice'), /Nothing to refresh|refreshed/);
  const logs = await latchkey.backend('GET', `/logs?operation=console&connection_id=${connectionId}`);
  assert.equal(logs.body.data[0].event, 'credentials_revealed');
  assert.ok(!JSON.stringify(logs.body).includes(token));
});

test('a denied consent shows as a failed attempt with its code in Activity', async () => {
  const { page } = operator;
  await page.goto(`${latchkey.host}/console/integrations/my-idp/connect`);
  const connectionId = await page.inputValue('#connection_id');
  const popup = page.waitForEvent('popup');
  await page.click('#connect-button');
  const window = await popup;
  await login(window, 'operator');
  await window.click('text=[ Cancel ]');
  assert.match(await connectResult(page), /access_denied/);
  await page.click('#connect-result >> text=Activity');
  await page.waitForSelector('.attempt');
  await page.selectOption('#level', 'error');
  await page.click('form.filters button[type=submit]');
  const attempt = page.locator('.attempt').first();
  assert.match(await attempt.textContent(), /Failed/);
  assert.match(await attempt.textContent(), /access_denied/);
  assert.match(await attempt.textContent(), new RegExp(connectionId));
  await check(page, 'activity');
});

test('an API-key integration connects through the form, and with HMAC on the SDK needs a digest', async () => {
  const { page } = operator;
  await page.goto(`${latchkey.host}/console/catalog?q=openai`);
  await page.click('text=Configure');
  await page.fill('#f-unique_key', 'openai');
  await page.click('text=Override the catalog');
  await page.fill('#f-custom_proxy_base_url', app.providerApi);
  await Promise.all([page.waitForURL(/integrations\/openai\?notice=created/), page.click('text=Create integration')]);

  await page.click('nav >> text=Environment');
  await check(page, 'environment');
  await page.check('#hmac_enabled');
  await Promise.all([page.waitForURL(/notice=saved/), page.click('text=Save settings')]);
  assert.equal((await latchkey.backend('GET', '/environment')).body.data.hmac_enabled, true);

  // The published SDK with the public key alone, as a customer's page would call it.
  const refused = await page.evaluate(
    async ([host, publicKey]) => {
      const { Latchkey } = await import('/demo/latchkey.js');
      try {
        await new Latchkey({ host, publicKey }).auth('openai', 'hmac-less', { credentials: { apiKey: 'good-key' } });
        return 'resolved';
      } catch (e) {
        return e.type;
      }
    },
    [latchkey.host, latchkey.keys.public_key],
  );
  assert.equal(refused, 'missing_hmac');

  // The console computes the digest, as a team's backend would.
  await page.goto(`${latchkey.host}/console/integrations/openai/connect`);
  await page.fill('#connection_id', 'api-key-user');
  await page.waitForFunction(() => !document.querySelector('#connect-button').disabled);
  await page.fill('#c-apiKey', 'bad-key');
  await page.click('#connect-button');
  assert.match(await connectResult(page), /connection_test_failed/);
  await page.fill('#c-apiKey', 'good-key');
  await page.click('#connect-button');
  assert.match(await connectResult(page), /Connected: connection api-key-user/);
  await page.goto(`${latchkey.host}/console/environment`);
  await page.uncheck('#hmac_enabled');
  await Promise.all([page.waitForURL(/notice=saved/), page.click('text=Save settings')]);
});

test('changes without the CSRF token or from another origin are refused and change nothing', async () => {
  const { page, context } = operator;
  assert.equal((await latchkey.backend('PATCH', '/environment', { hmac_enabled: false })).status, 200);
  const noToken = await fetchAs(page, '/console/environment', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: 'hmac_enabled=on',
  });
  assert.equal(noToken.status, 403);
  assert.equal(JSON.parse(noToken.text).error.code, 'invalid_csrf_token');
  // The right token from another origin (a tool that copied it; browsers send no cookie cross-site).
  const csrf = await page.getAttribute('meta[name="latchkey-console"]', 'data-csrf');
  const [cookie] = await context.cookies(latchkey.host);
  const crossSite = await fetch(`${latchkey.host}/console/environment`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      Cookie: `${cookie.name}=${cookie.value}`,
      Origin: app.origin,
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    },
    body: `csrf=${csrf}&hmac_enabled=on`,
  });
  assert.equal(crossSite.status, 403);
  assert.equal((await crossSite.json()).error.code, 'cross_origin_request');
  // A form of another site posting into the console: no session cookie goes along.
  const evil = await context.newPage();
  await evil.goto(`${app.origin}/app.html`);
  await evil.evaluate(([host, csrf]) => {
    const f = Object.assign(document.createElement('form'), { method: 'POST', action: `${host}/console/environment` });
    for (const [name, value] of [['csrf', csrf], ['hmac_enabled', 'on']]) {
      f.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }));
    }
    document.body.append(f);
    f.submit();
  }, [latchkey.host, csrf]);
  await evil.waitForLoadState();
  assert.match(await evil.textContent('body'), /Sign in|Request refused/);
  await evil.close();
  assert.equal((await latchkey.backend('GET', '/environment')).body.data.hmac_enabled, false, 'nothing changed');
});

test('keys are revealed on request and rotated with a grace period for the previous secret key', async () => {
  const { page } = operator;
  await page.goto(`${latchkey.host}/console/environment`);
  assert.ok(!(await page.content()).includes(latchkey.keys.hmac_key), 'keys are masked');
  await page.click('text=Reveal keys');
  assert.equal(await page.textContent('#hmac-key'), latchkey.keys.hmac_key);
  page.once('dialog', (d) => d.accept());
  await page.click('button:has-text("Rotate")');
  await page.waitForSelector('.notice.ok');
  const fresh = await page.textContent('#secret-key');
  assert.notEqual(fresh, latchkey.keys.secret_key);
  assert.match(fresh, /^lk_sk_/);
  await check(page, 'environment-rotated');
  const byOld = await latchkey.backend('GET', '/environment');
  assert.equal(byOld.status, 200, 'the previous key works during the grace period');
  assert.ok(byOld.body.data.previous_secret_key_expires_at);
  latchkey.keys.secret_key = fresh;
  assert.equal((await latchkey.backend('GET', '/environment')).status, 200);
});

test('sign out ends the session for every request that holds its cookie', async () => {
  const { page, context } = operator;
  const [cookie] = await context.cookies(latchkey.host);
  await page.click('text=Sign out');
  await page.waitForURL(/sign-in\?reason=signed_out/);
  assert.match(await page.textContent('.notice'), /Signed out/);
  const replay = await fetch(`${latchkey.host}/console/integrations`, {
    redirect: 'manual',
    headers: { Cookie: `${cookie.name}=${cookie.value}` },
  });
  assert.equal(replay.status, 303);
  assert.match(replay.headers.get('location'), /sign-in/);
});

test('an expired session is refused: pages lead to sign-in, changes answer 401', async () => {
  const { page, context, cookie, csrf, at } = expiring;
  const left = SHORT_SESSION_SECS * 1000 - (Date.now() - at);
  if (left > 0) await new Promise((r) => setTimeout(r, left + 200));
  // The browser dropped the cookie at its Max-Age; a copy of it is refused by the server.
  const change = await fetch(`${shortLived.host}/console/environment`, {
    method: 'POST',
    headers: {
      Cookie: `${cookie.name}=${cookie.value}`,
      Origin: shortLived.host,
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    },
    body: `csrf=${csrf}&hmac_enabled=on`,
  });
  assert.equal(change.status, 401);
  assert.equal((await change.json()).error.code, 'console_session_expired');
  assert.equal((await shortLived.backend('GET', '/environment')).body.data.hmac_enabled, false);
  await page.goto(`${shortLived.host}/console/connections`);
  assert.match(page.url(), /sign-in\?reason=/);
  await context.close();
  assert.deepEqual(cspViolations, [], 'no page broke its Content-Security-Policy');
});
