// Auth webhooks as a team that used Nango receives them: the real `latchkey serve` (its own job
// runner delivers them) sends to a receiver on 127.0.0.1, which checks each one with the
// published client's `verifyIncomingWebhookRequest` on the raw body, and Latchkey's
// timestamped signature with node:crypto (a verifier written here, apart from Latchkey's code),
// refusing a replay. The stack runs with the development switch, as a local setup would: the
// receiver is plain http on this machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { Nango } from '@nangohq/node';
import { startLatchkey } from '../lib/latchkey-serve.mjs';
import { startProviderPeer } from './stack.mjs';

let latchkey;
let peer;
let receiver;
let nango;

/** Keeps every request: its headers and its raw body, exactly as received. */
async function startReceiver() {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, got, stop: () => server.close() };
}

/** Waits (polling) until the receiver got `n` webhooks; the stack's runner sends them. */
async function received(n) {
  const until = Date.now() + 20000;
  while (receiver.got.length < n) {
    if (Date.now() > until) assert.fail(`${receiver.got.length} of ${n} webhooks arrived`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return receiver.got.slice(0, n);
}

/**
 * A receiver's check of Latchkey's own signature (docs/security.md): the timestamp within
 * 300 s of now, then `v1=` + hex HMAC-SHA256(key, `${timestamp}\n${id}\n${rawBody}`).
 */
function latchkeySignatureValid(key, headers, raw, nowSeconds = Math.floor(Date.now() / 1000)) {
  const timestamp = Number(headers['latchkey-timestamp']);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > 300) return false;
  const expected = `v1=${createHmac('sha256', key).update(`${timestamp}\n${headers['latchkey-webhook-id']}\n${raw}`).digest('hex')}`;
  const given = String(headers['latchkey-signature'] ?? '');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

async function importConnection(body) {
  const r = await nango.http.post(`${nango.serverUrl}/connections`, body, { headers: nango.enrichHeaders() });
  return r.data;
}

before(async () => {
  [latchkey, peer, receiver] = await Promise.all([
    startLatchkey({ label: 'latchkey-webhooks', env: { LATCHKEY_ALLOW_PRIVATE_ADDRESSES: 'true' } }),
    startProviderPeer(),
    startReceiver(),
  ]);
  nango = new Nango({ host: latchkey.host, secretKey: latchkey.keys.secret_key, webhookSigningKey: latchkey.keys.webhook_signing_key });
  const r = await nango.http.patch(`${nango.serverUrl}/environment`, { webhook_url: receiver.url }, { headers: nango.enrichHeaders() });
  assert.equal(r.data.data.webhook_url, receiver.url);
  await nango.createIntegration({ provider: 'openai', unique_key: 'openai', custom: { proxy_base_url: peer.url } });
});

after(() => {
  latchkey?.stop();
  peer?.stop();
  receiver?.stop();
});

test('creation and override webhooks pass verifyIncomingWebhookRequest and read as Nango auth webhooks', async () => {
  const credentials = { type: 'API_KEY', apiKey: 'good-key' };
  await importConnection({ connection_id: 'hooked', provider_config_key: 'openai', credentials, tags: { plan: 'team' } });
  await received(1);
  await importConnection({ connection_id: 'hooked', provider_config_key: 'openai', credentials });
  const [creation, override] = await received(2);

  for (const [{ headers, raw }, operation] of [[creation, 'creation'], [override, 'override']]) {
    assert.equal(nango.verifyIncomingWebhookRequest(raw, headers), true, 'the published check accepts it');
    const body = JSON.parse(raw);
    assert.deepEqual(body, {
      from: 'nango',
      type: 'auth',
      connectionId: 'hooked',
      providerConfigKey: 'openai',
      provider: 'openai',
      authMode: 'API_KEY',
      environment: 'dev',
      operation,
      success: true,
      tags: { plan: 'team' },
    });
    assert.equal(headers['content-type'], 'application/json');
    assert.match(headers['latchkey-webhook-id'], /^[0-9a-f-]{36}$/);
  }
  assert.notEqual(creation.headers['latchkey-webhook-id'], override.headers['latchkey-webhook-id']);

  // What the published check refuses: another body, another key.
  assert.equal(nango.verifyIncomingWebhookRequest(`${creation.raw} `, creation.headers), false);
  const other = new Nango({ host: latchkey.host, secretKey: 'x', webhookSigningKey: 'lk_wk_not-the-key' });
  assert.equal(other.verifyIncomingWebhookRequest(creation.raw, creation.headers), false);
});

test("Latchkey's timestamped signature verifies now and refuses a replay or a change", async () => {
  const [{ headers, raw }] = await received(1);
  const key = latchkey.keys.webhook_signing_key;
  const sent = Number(headers['latchkey-timestamp']);
  assert.equal(latchkeySignatureValid(key, headers, raw, sent + 5), true);
  assert.equal(latchkeySignatureValid(key, headers, raw, sent + 301), false, 'replayed after the window');
  assert.equal(latchkeySignatureValid(key, headers, raw.replace('"success":true', '"success":false'), sent), false);
  assert.equal(latchkeySignatureValid(key, { ...headers, 'latchkey-webhook-id': 'another-id' }, raw, sent), false);
  assert.equal(latchkeySignatureValid(key, { ...headers, 'latchkey-timestamp': String(sent + 1) }, raw, sent), false);
});

test('a connection with webhook_url_override (connect session, patchConnection) sends its webhooks there', async () => {
  const own = await startReceiver();
  try {
    const session = await nango.createConnectSession({ end_user: { id: 'u-1' }, webhook_url_override: own.url });
    assert.equal(typeof session.data.token, 'string');
    const r = await fetch(`${latchkey.host}/api-auth/api-key/openai?connect_session_token=${session.data.token}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiKey: 'good-key' }),
    });
    assert.equal(r.status, 200);
    const { connectionId } = await r.json();
    const connection = await nango.getConnection('openai', connectionId);
    assert.equal(connection.webhook_url_override, own.url);
    const until = Date.now() + 20000;
    while (own.got.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(own.got.length, 1);
    assert.equal(nango.verifyIncomingWebhookRequest(own.got[0].raw, own.got[0].headers), true);
    const body = JSON.parse(own.got[0].raw);
    assert.equal(body.connectionId, connectionId);
    assert.deepEqual(body.endUser, { endUserId: 'u-1', tags: {} });
    assert.ok(!receiver.got.some((d) => JSON.parse(d.raw).connectionId === connectionId), 'not to the environment URL');

    await nango.patchConnection({ connectionId, provider_config_key: 'openai' }, { webhook_url_override: receiver.url });
    assert.equal((await nango.getConnection('openai', connectionId)).webhook_url_override, receiver.url);
  } finally {
    own.stop();
  }
});
