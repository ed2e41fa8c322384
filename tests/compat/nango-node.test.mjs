// The published Nango Node client (@nangohq/node, pinned in package-lock.json) against the
// real local stack: proves docs/api.md's promise that a team switches by changing only `host`.
// Every client method that maps to a route Latchkey serves is called as a team would call it;
// methods whose route is not served yet are `todo` tests that document the gap
// (docs/compat.md) and turn into failures-to-look-at once the route exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Nango } from '@nangohq/node';
import { startLatchkey, startProviderPeer } from './stack.mjs';

const CLIENT_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@nangohq/node/package.json', import.meta.url), 'utf8'),
).version;

let latchkey;
let peer;
let nango;

before(async () => {
  [latchkey, peer] = await Promise.all([startLatchkey(), startProviderPeer()]);
  nango = new Nango({ host: latchkey.host, secretKey: latchkey.keys.secret_key });
});

after(() => {
  latchkey?.stop();
  peer?.stop();
});

/** The client's errors are axios errors: status and the JSON body. */
async function rejects(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.response?.status, status, `status of ${JSON.stringify(e.response?.data)}`);
    if (code) assert.equal(e.response.data?.error?.code, code, JSON.stringify(e.response.data));
    assert.equal(typeof e.response.data?.error?.message, 'string');
    return e.response.data;
  }
  assert.fail(`expected HTTP ${status}`);
}

/**
 * `POST /connections` (import): 0.71 has no client method for it, so it goes through the
 * client's own transport and headers (`nango.http`, `enrichHeaders`), exactly as its other
 * calls do; the body is the `PostPublicConnection` type of @nangohq/types.
 */
async function importConnection(body) {
  const r = await nango.http.post(`${nango.serverUrl}/connections`, body, { headers: nango.enrichHeaders() });
  return r.data;
}

const OAUTH_CUSTOM = {
  authorization_url: 'https://id.example.test/authorize',
  token_url: 'https://id.example.test/token',
};

test(`the client under test is @nangohq/node 0.71.x (${CLIENT_VERSION})`, () => {
  assert.match(CLIENT_VERSION, /^0\.71\.\d+$/);
});

test('a wrong secret key is refused with a JSON 401 the client surfaces', async () => {
  const wrong = new Nango({ host: latchkey.host, secretKey: 'not-the-key' });
  await rejects(wrong.listIntegrations(), 401);
});

test('integrations: createIntegration, getIntegration, listIntegrations, updateIntegration, deleteIntegration', async () => {
  const created = await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'crud',
    display_name: 'CRUD',
    credentials: { type: 'OAUTH2', client_id: 'cid', client_secret: 'csecret', scopes: 'openid,email' },
    custom: OAUTH_CUSTOM,
  });
  assert.equal(created.data.unique_key, 'crud');
  assert.equal(created.data.provider, 'custom-oauth2');
  assert.equal(created.data.display_name, 'CRUD');
  assert.ok(!JSON.stringify(created).includes('csecret'), 'the client secret is never answered');

  const got = await nango.getIntegration({ uniqueKey: 'crud' }, { include: ['credentials'] });
  assert.equal(got.data.unique_key, 'crud');
  assert.equal(got.data.credentials.type, 'OAUTH2');
  assert.equal(got.data.credentials.client_id, 'cid');
  assert.equal(got.data.credentials.scopes, 'openid,email');
  assert.ok(Date.parse(got.data.created_at));

  // The client turns `{data: [...]}` into its legacy `{configs: [...]}`.
  const list = await nango.listIntegrations();
  assert.ok(list.configs.some((c) => c.unique_key === 'crud' && c.provider === 'custom-oauth2'));

  const updated = await nango.updateIntegration(
    { uniqueKey: 'crud' },
    { display_name: 'Renamed', credentials: { type: 'OAUTH2', client_id: 'cid2', client_secret: 's2', scopes: 'a' } },
  );
  assert.equal(updated.data.display_name, 'Renamed');
  assert.equal(updated.data.credentials.client_id, 'cid2');

  await rejects(
    nango.createIntegration({
      provider: 'custom-oauth2',
      unique_key: 'crud',
      credentials: { type: 'OAUTH2', client_id: 'other', client_secret: 'other' },
      custom: OAUTH_CUSTOM,
    }),
    409,
  );
  // An OAuth integration without the app's client id could never connect: refused at once.
  await rejects(
    nango.createIntegration({ provider: 'custom-oauth2', unique_key: 'no-client', custom: OAUTH_CUSTOM }),
    400,
    'missing_client_id',
  );
  await rejects(nango.createIntegration({ provider: 'no-such-provider', unique_key: 'x' }), 400);

  const deleted = await nango.deleteIntegration('crud');
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.data, { success: true });
  await rejects(nango.getIntegration({ uniqueKey: 'crud' }), 404, 'unknown_provider_config');
});

test('providers: listProviders (with search) and getProvider', async () => {
  const all = await nango.listProviders();
  assert.ok(all.data.length > 100);
  const found = await nango.listProviders({ search: 'openai' });
  assert.ok(found.data.length >= 1);
  assert.ok(found.data.every((p) => `${p.name} ${p.display_name}`.toLowerCase().includes('openai')));
  const one = await nango.getProvider({ provider: 'openai' });
  assert.equal(one.data.name, 'openai');
  assert.equal(one.data.auth_mode, 'API_KEY');
  await rejects(nango.getProvider({ provider: 'no-such-provider' }), 404, 'not_found');
});

test('OAUTH2 import, then getConnection (refreshToken flag), getToken, getRawTokenResponse, getMetadata', async () => {
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'oauth',
    credentials: { type: 'OAUTH2', client_id: 'cid', client_secret: 'cs' },
    custom: OAUTH_CUSTOM,
  });
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const imported = await importConnection({
    connection_id: 'oauth-user-1',
    provider_config_key: 'oauth',
    credentials: { type: 'OAUTH2', access_token: 'at-1', refresh_token: 'rt-1', expires_at: expiresAt },
    metadata: { plan: 'pro' },
    end_user: { id: 'user-1', email: 'u1@example.test' },
    tags: { team: 'blue' },
  });
  assert.equal(imported.connection_id, 'oauth-user-1');
  assert.equal(imported.provider_config_key, 'oauth');
  assert.equal(imported.credentials.access_token, 'at-1');
  assert.equal(imported.credentials.refresh_token, undefined, 'import answers without the refresh token');

  const conn = await nango.getConnection('oauth', 'oauth-user-1');
  for (const field of ['id', 'connection_id', 'provider_config_key', 'provider', 'created_at', 'updated_at', 'last_fetched_at', 'metadata', 'connection_config', 'end_user', 'tags', 'errors', 'credentials']) {
    assert.ok(field in conn, `connection object has ${field}`);
  }
  assert.equal(conn.provider, 'custom-oauth2');
  assert.deepEqual(conn.metadata, { plan: 'pro' });
  assert.equal(conn.end_user.id, 'user-1');
  assert.deepEqual(conn.tags, { team: 'blue' });
  assert.deepEqual(conn.errors, []);
  assert.equal(conn.credentials.type, 'OAUTH2');
  assert.equal(conn.credentials.access_token, 'at-1');
  assert.equal(Date.parse(conn.credentials.expires_at), Date.parse(expiresAt));
  assert.equal(conn.credentials.refresh_token, undefined, 'no refresh token unless asked');

  const withRefresh = await nango.getConnection('oauth', 'oauth-user-1', false, true);
  assert.equal(withRefresh.credentials.refresh_token, 'rt-1');

  assert.equal(await nango.getToken('oauth', 'oauth-user-1'), 'at-1');
  const raw = await nango.getRawTokenResponse('oauth', 'oauth-user-1');
  assert.equal(typeof raw, 'object');
  assert.equal(raw.refresh_token, undefined);
  assert.deepEqual(await nango.getMetadata('oauth', 'oauth-user-1'), { plan: 'pro' });

  await rejects(nango.getConnection('oauth', 'nobody'), 404, 'not_found');
  await rejects(nango.getConnection('no-such-integration', 'oauth-user-1'), 404);
});

test('OAUTH2 refresh: getToken(…, true) refreshes at the provider, an expired token on read; a refused refresh is HTTP 424', async () => {
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'refreshing',
    credentials: { type: 'OAUTH2', client_id: 'cid', client_secret: 'cs' },
    custom: { authorization_url: `${peer.url}/oauth/authorize`, token_url: `${peer.url}/oauth/token` },
  });
  const inAnHour = new Date(Date.now() + 3600_000).toISOString();
  await importConnection({
    connection_id: 'live',
    provider_config_key: 'refreshing',
    credentials: { type: 'OAUTH2', access_token: 'at-0', refresh_token: 'rt-0', expires_at: inAnHour },
  });
  assert.equal(await nango.getToken('refreshing', 'live'), 'at-0', 'fresh: answered as stored');
  assert.equal(await nango.getToken('refreshing', 'live', true), 'at-1', 'forceRefresh refreshes');
  assert.equal(await nango.getToken('refreshing', 'live'), 'at-1');
  assert.equal(peer.refreshes(), 1);
  const withRefresh = await nango.getConnection('refreshing', 'live', false, true);
  assert.equal(withRefresh.credentials.refresh_token, 'rt-1', 'the rotated refresh token was stored');

  // An expired token is refreshed by the read itself, with the rotated refresh token.
  await importConnection({
    connection_id: 'expired',
    provider_config_key: 'refreshing',
    credentials: { type: 'OAUTH2', access_token: 'old', refresh_token: 'rt-1', expires_at: '2020-01-01T00:00:00Z' },
  });
  assert.equal(await nango.getToken('refreshing', 'expired'), 'at-2');
  assert.equal(peer.refreshes(), 2);

  // A refresh token the provider refuses: 424, the connection lists the failure, Nango's codes.
  await importConnection({
    connection_id: 'revoked',
    provider_config_key: 'refreshing',
    credentials: { type: 'OAUTH2', access_token: 'old', refresh_token: 'rt-revoked', expires_at: '2020-01-01T00:00:00Z' },
  });
  const refused = await rejects(nango.getToken('refreshing', 'revoked'), 424, 'connection_refresh_backoff');
  assert.match(refused.error.message, /invalid_grant/);
  await rejects(nango.getConnection('refreshing', 'revoked'), 424, 'connection_refresh_backoff');
  await rejects(nango.getToken('refreshing', 'revoked', true), 424, 'connection_refresh_backoff');
  await rejects(nango.getToken('refreshing', 'revoked', true), 424, 'connection_refresh_exhausted');
  await rejects(nango.getConnection('refreshing', 'revoked'), 424, 'connection_refresh_exhausted');
  const { connections } = await nango.listConnections({ connectionId: 'revoked' });
  assert.equal(connections[0].errors.length, 1);
  assert.equal(connections[0].errors[0].type, 'refresh');
});

test('API_KEY import: verified with the provider first; getToken answers the credentials object', async () => {
  await nango.createIntegration({ provider: 'openai', unique_key: 'openai', custom: { proxy_base_url: peer.url } });
  const imported = await importConnection({
    connection_id: 'key-user',
    provider_config_key: 'openai',
    credentials: { type: 'API_KEY', apiKey: 'good-key' },
  });
  assert.equal(imported.credentials.type, 'API_KEY');
  assert.equal(imported.credentials.apiKey, 'good-key');
  // For modes other than OAUTH2/OAUTH1 the client returns `credentials` as they are.
  assert.deepEqual(await nango.getToken('openai', 'key-user'), { type: 'API_KEY', apiKey: 'good-key' });

  const refused = await rejects(
    importConnection({ connection_id: 'bad-key', provider_config_key: 'openai', credentials: { type: 'API_KEY', apiKey: 'wrong' } }),
    400,
    'connection_test_failed',
  );
  assert.ok(!JSON.stringify(refused).includes('wrong'), 'the refused key is not echoed');
  await rejects(nango.getConnection('openai', 'bad-key'), 404, 'not_found');
});

test('BASIC import: verified with the provider first; getConnection answers username and password', async () => {
  await nango.createIntegration({ provider: 'aircall-basic', unique_key: 'aircall', custom: { proxy_base_url: peer.url } });
  await importConnection({
    connection_id: 'basic-user',
    provider_config_key: 'aircall',
    credentials: { type: 'BASIC', username: 'good-user', password: 'good-pass' },
  });
  const conn = await nango.getConnection('aircall', 'basic-user');
  assert.deepEqual(conn.credentials, { type: 'BASIC', username: 'good-user', password: 'good-pass' });
  assert.deepEqual(await nango.getToken('aircall', 'basic-user'), conn.credentials);
  await rejects(
    importConnection({
      connection_id: 'basic-bad',
      provider_config_key: 'aircall',
      credentials: { type: 'BASIC', username: 'good-user', password: 'wrong-pass' },
    }),
    400,
    'connection_test_failed',
  );
});

test('OAUTH2_CC import: getConnection with forceRefresh fetches a new token from the provider', async () => {
  await nango.createIntegration({
    provider: '8x8',
    unique_key: 'cc',
    credentials: { type: 'OAUTH2_CC', client_id: 'cc-id', client_secret: 'cc-secret' },
    custom: { token_url: `${peer.url}/token` },
  });
  await importConnection({
    connection_id: 'cc-user',
    provider_config_key: 'cc',
    credentials: { type: 'OAUTH2_CC', token: 'imported-token', expires_at: new Date(Date.now() + 3600_000).toISOString() },
  });
  const warm = await nango.getConnection('cc', 'cc-user');
  assert.equal(warm.credentials.type, 'OAUTH2_CC');
  assert.equal(warm.credentials.token, 'imported-token');
  const forced = await nango.getConnection('cc', 'cc-user', true);
  assert.match(forced.credentials.token, /^cc-\d+$/);
  // getToken's default branch: the credentials object as stored.
  const token = await nango.getToken('cc', 'cc-user');
  assert.equal(token.token, forced.credentials.token);
});

test('listConnections: object and legacy signatures, filters, pagination', async () => {
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'list-a',
    credentials: { type: 'OAUTH2', client_id: 'a', client_secret: 'a' },
    custom: OAUTH_CUSTOM,
  });
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'list-b',
    credentials: { type: 'OAUTH2', client_id: 'b', client_secret: 'b' },
    custom: OAUTH_CUSTOM,
  });
  const put = (integration, id, user) =>
    importConnection({
      connection_id: id,
      provider_config_key: integration,
      credentials: { type: 'OAUTH2', access_token: `at-${id}` },
      end_user: { id: user },
    });
  await put('list-a', 'la-1', 'alice');
  await put('list-a', 'la-2', 'bob');
  await put('list-b', 'lb-1', 'alice');

  const ids = (r) => r.connections.map((c) => c.connection_id).sort();
  const everything = await nango.listConnections();
  assert.ok(['la-1', 'la-2', 'lb-1'].every((id) => ids(everything).includes(id)));
  const item = everything.connections.find((c) => c.connection_id === 'la-1');
  for (const field of ['id', 'connection_id', 'provider_config_key', 'provider', 'created', 'metadata', 'errors', 'end_user', 'tags']) {
    assert.ok(field in item, `list item has ${field}`);
  }
  assert.equal(item.credentials, undefined, 'a list never carries credentials');

  assert.deepEqual(ids(await nango.listConnections({ integrationId: 'list-a' })), ['la-1', 'la-2']);
  assert.deepEqual(ids(await nango.listConnections({ integrationId: ['list-a', 'list-b'], userId: 'alice' })), ['la-1', 'lb-1']);
  assert.deepEqual(ids(await nango.listConnections({ connectionId: 'la-2' })), ['la-2']);
  // Legacy signature: (connectionId, search, {endUserId, limit, page}).
  assert.deepEqual(ids(await nango.listConnections('lb-1')), ['lb-1']);
  assert.deepEqual(ids(await nango.listConnections(undefined, undefined, { endUserId: 'bob' })), ['la-2']);
  assert.ok(ids(await nango.listConnections(undefined, 'la-')).every((id) => id.startsWith('la-')));

  const page0 = await nango.listConnections({ integrationId: 'list-a', limit: 1 });
  const page1 = await nango.listConnections({ integrationId: 'list-a', limit: 1, page: 1 });
  assert.equal(page0.connections.length, 1);
  assert.equal(page1.connections.length, 1);
  assert.notEqual(page0.connections[0].connection_id, page1.connections[0].connection_id);

  // Filters the store can't apply are refused, never ignored (that would list everyone's).
  await rejects(nango.listConnections({ tags: { email: 'alice@example.test' } }), 400, 'invalid_query_params');
  await rejects(nango.listConnections({ tags: { team: 'blue' } }), 400, 'invalid_query_params');
  await rejects(nango.listConnections(undefined, undefined, { endUserOrganizationId: 'org-1' }), 400, 'invalid_query_params');
});

test('deleteConnection answers {success: true}; the connection is gone; a second delete is a 404', async () => {
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'del',
    credentials: { type: 'OAUTH2', client_id: 'd', client_secret: 'd' },
    custom: OAUTH_CUSTOM,
  });
  await importConnection({ connection_id: 'gone', provider_config_key: 'del', credentials: { type: 'OAUTH2', access_token: 'x' } });
  const r = await nango.deleteConnection('del', 'gone');
  assert.equal(r.status, 200);
  assert.deepEqual(r.data, { success: true });
  await rejects(nango.getConnection('del', 'gone'), 404, 'not_found');
  await rejects(nango.deleteConnection('del', 'gone'), 404, 'not_found');
});

test('createConnectSession and createReconnectSession answer {data: {token, connect_link, expires_at}}', async () => {
  await nango.createIntegration({
    provider: 'custom-oauth2',
    unique_key: 'sess',
    credentials: { type: 'OAUTH2', client_id: 's', client_secret: 's' },
    custom: OAUTH_CUSTOM,
  });
  const session = await nango.createConnectSession({
    end_user: { id: 'u-42', email: 'u42@example.test', display_name: 'U 42' },
    organization: { id: 'org-1', display_name: 'Org' },
    allowed_integrations: ['sess'],
  });
  assert.equal(typeof session.data.token, 'string');
  assert.ok(session.data.token.length > 20);
  assert.ok(new URL(session.data.connect_link).href.startsWith(latchkey.host));
  assert.ok(Date.parse(session.data.expires_at) > Date.now());
  await rejects(nango.createConnectSession({}), 400, 'invalid_body');

  await importConnection({ connection_id: 'sess-conn', provider_config_key: 'sess', credentials: { type: 'OAUTH2', access_token: 'x' } });
  const again = await nango.createReconnectSession({ connection_id: 'sess-conn', integration_id: 'sess' });
  assert.equal(typeof again.data.token, 'string');
  assert.ok(Date.parse(again.data.expires_at) > Date.now());
  await rejects(nango.createReconnectSession({ connection_id: 'nobody', integration_id: 'sess' }), 404);
});

test('verifyIncomingWebhookRequest uses the HMAC latchkey::signing::hmac_sha256_hex computes (RFC 4231 vector)', () => {
  // The same vector is asserted for the Rust side in shared/src/signing.rs.
  const signer = new Nango({ host: latchkey.host, secretKey: 'unused', webhookSigningKey: 'Jefe' });
  const body = 'what do ya want for nothing?';
  const sig = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
  assert.equal(signer.verifyIncomingWebhookRequest(body, { 'X-Nango-Hmac-Sha256': sig }), true);
  assert.equal(signer.verifyIncomingWebhookRequest(body + ' ', { 'X-Nango-Hmac-Sha256': sig }), false);
});

// ---- Known gaps: the client calls a route Latchkey does not serve (yet). Each runs the call and
// expects the JSON error Latchkey answers today; `todo` keeps them out of the failure count.

async function gap(call) {
  const body = await rejects(call(), 404).catch(async () => rejects(call(), 405));
  assert.ok(body.error.code);
}

test('patchConnection sets end user and tags; setMetadata replaces, updateMetadata merges', async () => {
  await nango.patchConnection(
    { connectionId: 'oauth-user-1', provider_config_key: 'oauth' },
    { end_user: { id: 'eu-9', email: 'eu9@example.test' }, tags: { plan: 'team' } },
  );
  const patched = await nango.getConnection('oauth', 'oauth-user-1');
  assert.equal(patched.end_user.id, 'eu-9');
  assert.deepEqual(patched.tags, { plan: 'team' });
  assert.equal(patched.credentials.access_token, 'at-1', 'credentials are untouched');
  await rejects(
    nango.patchConnection({ connectionId: 'nobody', provider_config_key: 'oauth' }, { tags: {} }),
    404,
    'not_found',
  );

  await nango.setMetadata('oauth', 'oauth-user-1', { plan: 'team', seats: 1 });
  assert.deepEqual(await nango.getMetadata('oauth', 'oauth-user-1'), { plan: 'team', seats: 1 });
  await nango.updateMetadata('oauth', 'oauth-user-1', { seats: 3 });
  assert.deepEqual(await nango.getMetadata('oauth', 'oauth-user-1'), { plan: 'team', seats: 3 });
  await nango.setMetadata('oauth', ['oauth-user-1'], { only: true });
  assert.deepEqual(await nango.getMetadata('oauth', 'oauth-user-1'), { only: true });
  await rejects(nango.setMetadata('oauth', 'nobody', { a: 1 }), 404, 'not_found');
});

test('createQuickstartIntegration (POST /integrations/quickstart)', { todo: 'route not served' }, async () => {
  await gap(() => nango.createQuickstartIntegration({ provider: 'openai', unique_key: 'qs' }));
});

test('getProviderTemplates (GET /providers/{name}/templates)', { todo: 'no functions in Latchkey' }, async () => {
  await gap(() => nango.getProviderTemplates({ provider: 'openai' }));
});

test('proxy / get / post / put / patch / delete (/proxy/*)', { todo: 'no proxy in Latchkey' }, async () => {
  await gap(() => nango.get({ endpoint: '/v1/models', providerConfigKey: 'openai', connectionId: 'key-user' }));
});

// ---- Known gaps in bodies the 0.71 types allow: refused with 400 invalid_body (never silently
// dropped) until Latchkey honors them.

test('createConnectSession with top-level tags (end_user optional in 0.71)', { todo: 'session tags not carried to connections yet' }, async () => {
  await rejects(nango.createConnectSession({ tags: { end_user_id: 'u-1', end_user_email: 'u1@example.test' } }), 400, 'invalid_body');
});

test('webhook_url_override: import, getConnection, patchConnection, connect sessions (0.71 types)', async () => {
  const imported = await importConnection({
    connection_id: 'hooked',
    provider_config_key: 'oauth',
    credentials: { type: 'OAUTH2', access_token: 'x' },
    webhook_url_override: 'https://hooks.example.test/x',
  });
  assert.equal(imported.webhook_url_override, 'https://hooks.example.test/x');
  assert.equal((await nango.getConnection('oauth', 'hooked')).webhook_url_override, 'https://hooks.example.test/x');
  await nango.patchConnection({ connectionId: 'hooked', provider_config_key: 'oauth' }, { webhook_url_override: 'https://hooks.example.test/y' });
  assert.equal((await nango.getConnection('oauth', 'hooked')).webhook_url_override, 'https://hooks.example.test/y');
  // Checked like every webhook URL: https, absolute, no credentials in it, a public address.
  await rejects(
    nango.patchConnection({ connectionId: 'hooked', provider_config_key: 'oauth' }, { webhook_url_override: 'http://hooks.example.test/y' }),
    400,
    'invalid_body',
  );
  await rejects(
    importConnection({ provider_config_key: 'oauth', credentials: { type: 'OAUTH2', access_token: 'x' }, webhook_url_override: 'https://10.0.0.1/x' }),
    400,
    'invalid_body',
  );
  const session = await nango.createConnectSession({ end_user: { id: 'u-1' }, webhook_url_override: 'https://hooks.example.test/s' });
  assert.equal(typeof session.data.token, 'string');
  const again = await nango.createReconnectSession({ connection_id: 'hooked', integration_id: 'oauth', webhook_url_override: 'https://hooks.example.test/r' });
  assert.equal(typeof again.data.token, 'string');
});
