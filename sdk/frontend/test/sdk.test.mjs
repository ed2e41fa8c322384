// Unit tests of the built SDK (dist/) with a hand-made window and fetch: the URL and body it
// sends, how results are accepted or ignored, and when it gives up. The real browser flows are
// proven in tests/browser against the local stack.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Latchkey, AuthError } from '../dist/index.js';

const HOST = 'http://127.0.0.1:3003';
let listeners;
let opened;
let fetches;
let fetchReply;

function fakePopup() {
  return {
    closed: false,
    location: { href: '' },
    close() {
      this.closed = true;
    },
  };
}

beforeEach(() => {
  listeners = new Set();
  opened = [];
  fetches = [];
  fetchReply = () => ({ status: 200, body: { status: 'pending' } });
  globalThis.window = {
    location: { origin: 'https://app.example.com' },
    screenX: 0,
    screenY: 0,
    outerWidth: 1200,
    outerHeight: 900,
    open(url, name, features) {
      const popup = fakePopup();
      opened.push({ url, name, features, popup });
      return popup;
    },
    addEventListener(type, fn) {
      if (type === 'message') listeners.add(fn);
    },
    removeEventListener(type, fn) {
      if (type === 'message') listeners.delete(fn);
    },
  };
  globalThis.fetch = async (url, init = {}) => {
    fetches.push({ url: String(url), init });
    const { status, body } = fetchReply(String(url), init);
    return { ok: status < 400, status, json: async () => body };
  };
});

function post(data, origin = HOST, source = opened[0].popup) {
  for (const fn of [...listeners]) fn({ origin, source, data });
}

const sdk = (extra = {}) => new Latchkey({ host: `${HOST}/`, publicKey: 'lk_pk_test', pollIntervalMs: 5, ...extra });

test('the constructor wants a host and a public key or session token', () => {
  assert.throws(() => new Latchkey({ host: HOST }), (e) => e instanceof AuthError && e.type === 'missing_auth_token');
  assert.throws(() => new Latchkey({ host: 'ftp://x', publicKey: 'k' }), AuthError);
  assert.equal(sdk().host, HOST);
});

test('the popup opens synchronously and is sent to the connect URL with every option', () => {
  const pending = sdk().auth('zendesk', 'user-123', {
    params: { subdomain: 'acme' },
    hmac: 'abc',
    user_scope: ['read', 'write'],
    authorization_params: { prompt: 'consent', skip: undefined },
  });
  assert.equal(opened.length, 1, 'window.open ran before auth() returned');
  assert.equal(opened[0].url, '');
  const url = new URL(opened[0].popup.location.href);
  assert.equal(url.origin + url.pathname, `${HOST}/oauth/connect/zendesk`);
  const q = url.searchParams;
  assert.equal(q.get('connection_id'), 'user-123');
  assert.equal(q.get('public_key'), 'lk_pk_test');
  assert.equal(q.get('hmac'), 'abc');
  assert.equal(q.get('params[subdomain]'), 'acme');
  assert.equal(q.get('user_scope'), 'read,write');
  assert.equal(q.get('authorization_params[prompt]'), 'consent');
  assert.equal(q.has('authorization_params[skip]'), false);
  assert.match(q.get('client_nonce'), /^[A-Za-z0-9_-]{43}$/);
  post({ type: 'latchkey:auth:success', providerConfigKey: 'zendesk', connectionId: 'user-123' });
  return pending;
});

test('a session token replaces the public key, and create() sends no connection id', async () => {
  const latchkey = new Latchkey({ host: HOST, connectSessionToken: 'lk_cst_x', pollIntervalMs: 5 });
  const pending = latchkey.create('github');
  const q = new URL(opened[0].popup.location.href).searchParams;
  assert.equal(q.get('connect_session_token'), 'lk_cst_x');
  assert.equal(q.has('public_key'), false);
  assert.equal(q.has('connection_id'), false);
  post({ type: 'latchkey:auth:success', providerConfigKey: 'github', connectionId: 'generated-1' });
  assert.deepEqual(await pending, { providerConfigKey: 'github', connectionId: 'generated-1' });
  await assert.rejects(sdk().reconnect('github'), (e) => e.type === 'missing_auth_token');
});

test('messages from another origin or window are ignored; the host result closes the popup', async () => {
  const pending = sdk().auth('github', 'u1');
  post({ type: 'latchkey:auth:success', providerConfigKey: 'github', connectionId: 'u1' }, 'https://evil.example');
  post({ type: 'latchkey:auth:success', providerConfigKey: 'github', connectionId: 'u1' }, HOST, {});
  post({ type: 'latchkey:auth:success', providerConfigKey: 'github', connectionId: 'other' });
  assert.equal(opened[0].popup.closed, false);
  post({ type: 'latchkey:auth:success', providerConfigKey: 'github', connectionId: 'u1' });
  assert.deepEqual(await pending, { providerConfigKey: 'github', connectionId: 'u1' });
  assert.equal(opened[0].popup.closed, true);
  assert.equal(listeners.size, 0, 'the message listener is removed');
});

test('an error message rejects with the server error type', async () => {
  const pending = sdk().auth('github', 'u1');
  post({ type: 'latchkey:auth:error', error_type: 'invalid_hmac', error_desc: 'The hmac digest does not match.' });
  await assert.rejects(pending, (e) => e instanceof AuthError && e.type === 'invalid_hmac' && /hmac/.test(e.message));
});

test('without any message, polling the result endpoint resolves the flow', async () => {
  let polls = 0;
  fetchReply = () =>
    ++polls < 3
      ? { status: 200, body: { status: 'pending' } }
      : { status: 200, body: { status: 'success', providerConfigKey: 'github', connectionId: 'u1' } };
  const result = await sdk().auth('github', 'u1');
  assert.deepEqual(result, { providerConfigKey: 'github', connectionId: 'u1' });
  const nonce = new URL(opened[0].popup.location.href).searchParams.get('client_nonce');
  assert.equal(fetches[0].url, `${HOST}/oauth/result/${nonce}`);
});

test('a closed popup rejects with window_closed only when asked to', async () => {
  const asked = sdk().auth('github', 'u1', { detectClosedAuthWindow: true });
  opened[0].popup.closed = true;
  await assert.rejects(asked, (e) => e.type === 'window_closed');

  let settled = false;
  const unasked = sdk().auth('github', 'u2');
  unasked.then(() => (settled = true), () => (settled = true));
  opened[1].popup.closed = true;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(settled, false, 'keeps waiting: the result may still come by polling');
  fetchReply = () => ({ status: 200, body: { status: 'success', providerConfigKey: 'github', connectionId: 'u2' } });
  assert.equal((await unasked).connectionId, 'u2');
});

test('a blocked popup rejects with blocked_by_browser', async () => {
  window.open = () => null;
  await assert.rejects(sdk().auth('github'), (e) => e.type === 'blocked_by_browser');
});

test('credentials are POSTed as JSON to the route of their kind, without a popup', async () => {
  fetchReply = () => ({ status: 200, body: { providerConfigKey: 'stripe', connectionId: 'c1' } });
  const cases = [
    [{ apiKey: 'sk_1' }, '/api-auth/api-key/stripe'],
    [{ username: 'u', password: 'p' }, '/api-auth/basic/stripe'],
    [{ client_id: 'id', client_secret: 's' }, '/oauth2/auth/stripe'],
    [{ type: 'TWO_STEP', username: 'u', password: 'p', teamName: 't' }, '/auth/two-step/stripe'],
    [{ type: 'SIGNATURE', username: 'u', password: 'p' }, '/auth/signature/stripe'],
    [{ type: 'AWS_SIGV4', role_arn: 'arn:aws:iam::123456789012:role/R', region: 'eu-west-1' }, '/auth/aws-sigv4/stripe'],
    [{ username: 'u', password: 'p', organization_id: 'o', dev_key: 'k' }, '/auth/bill/stripe'],
  ];
  for (const [credentials, path] of cases) {
    fetches = [];
    const r = await sdk().auth('stripe', 'c1', { credentials, hmac: 'h', params: { region: 'eu' } });
    assert.deepEqual(r, { providerConfigKey: 'stripe', connectionId: 'c1' });
    const url = new URL(fetches[0].url);
    assert.equal(url.pathname, path);
    assert.equal(url.searchParams.get('connection_id'), 'c1');
    assert.equal(url.searchParams.get('hmac'), 'h');
    assert.equal(url.searchParams.get('params[region]'), 'eu');
    assert.equal(fetches[0].init.method, 'POST');
    assert.equal(fetches[0].init.headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(fetches[0].init.body), credentials);
  }
  assert.equal(opened.length, 0);
});

test('a refused POST rejects with the server error code', async () => {
  fetchReply = () => ({ status: 401, body: { error: { code: 'missing_hmac', message: 'HMAC required.' } } });
  await assert.rejects(
    sdk().auth('stripe', 'c1', { credentials: { apiKey: 'x' } }),
    (e) => e instanceof AuthError && e.type === 'missing_hmac' && e.message === 'HMAC required.',
  );
  globalThis.fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  await assert.rejects(sdk().auth('stripe', { credentials: { apiKey: 'x' } }), (e) => e.type === 'unknown_error');
});
