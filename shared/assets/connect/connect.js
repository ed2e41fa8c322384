// The Connect page's logic, run after the frontend SDK (`Latchkey`, `AuthError`) in one module.
// It reads a connect session's offer (`GET /connect/session`, the token as a Bearer), lists the
// integrations it allows (or goes straight to the only one), asks for what each one needs, and
// connects: a popup through the SDK for redirect modes, one POST for credentials modes.
//
// Opened from a `connect_link`, the token is in the query. Embedded by `openConnectUI()` of
// `@nangohq/frontend`, the page says `ready` to its parent, receives `session_token`, and reports
// `connect`, `error` and `close` — only to the parent's origin, which the server's
// `frame-ancestors` limits to the environment's allowed origins. Everything is built with DOM
// calls and `textContent`: nothing from the server or the URL is parsed as HTML.

const config = JSON.parse(document.getElementById('connect-config').textContent);
const query = new URLSearchParams(location.search);
const embedded = window.parent !== window;
const app = config.appName;

let token = query.get('session_token');
let parentOrigin = null;
let offer = null;
let busy = false;

const $ = (id) => document.getElementById(id);

if (['light', 'dark', 'system'].includes(query.get('theme'))) {
  document.documentElement.dataset.theme = query.get('theme');
}
const detectClosedAuthWindow = query.get('detectClosedAuthWindow') === 'true';

// The token leaves the address bar (history, screenshots); it stays in memory only.
if (token) {
  query.delete('session_token');
  const rest = query.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : ''));
}

// ------------------------------------------------------------------ events for openConnectUI

function emit(event) {
  if (embedded && parentOrigin) window.parent.postMessage(event, parentOrigin);
}

function close() {
  if (embedded) {
    emit({ type: 'close' });
  } else {
    window.close();
  }
}

if (embedded) {
  document.body.classList.add('embedded');
  $('close').hidden = false;
  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || !config.parentOrigins.includes(event.origin)) return;
    const data = event.data;
    if (!data || data.type !== 'session_token' || typeof data.sessionToken !== 'string') return;
    parentOrigin = event.origin;
    if (data.sessionToken !== token) {
      token = data.sessionToken;
      load();
    }
  });
  // The parent's origin is one of these (frame-ancestors): `ready` reaches it and no other.
  for (const origin of config.parentOrigins) window.parent.postMessage({ type: 'ready' }, origin);
}
$('close').addEventListener('click', close);
$('backdrop').addEventListener('click', close);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && embedded && !busy) close();
});

// ------------------------------------------------------------------ rendering

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** Shows one view: a title, a lead line, and its content; focus goes to the title. */
function show(title, lead, ...content) {
  $('view-title').textContent = title;
  $('view-lead').textContent = lead ?? '';
  $('view').replaceChildren(...content.flat().filter((c) => c !== null && c !== undefined));
  $('view-title').focus();
}

$('app-line').textContent = app ? `Connect an account to ${app}` : 'Connect an account';

const LABELS = {
  apiKey: 'API key',
  username: 'Username',
  password: 'Password',
  client_id: 'Client ID',
  client_secret: 'Client secret',
};

function label(name) {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_.-]+/g, ' ').trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function initials(name) {
  const letters = name.replace(/[^A-Za-z0-9 ]/g, ' ').trim().split(/\s+/).map((w) => w[0]);
  return (letters.slice(0, 2).join('') || '?').toUpperCase();
}

// ------------------------------------------------------------------ errors people can read

function friendly(type, integration) {
  const name = integration?.display_name ?? 'The service';
  const back = app ? `Go back to ${app} and start again.` : 'Go back and start again.';
  switch (type) {
    case 'access_denied':
      return `You did not allow access at ${name}. You can try again.`;
    case 'window_closed':
      return 'The sign-in window was closed before you finished.';
    case 'blocked_by_browser':
      return 'Your browser blocked the sign-in window. Allow pop-ups for this page and try again.';
    case 'connection_test_failed':
    case 'invalid_credentials':
      return `${name} did not accept these details. Check them and try again.`;
    case 'invalid_connection_config':
    case 'missing_connection_config':
    case 'invalid_query_params':
      return 'Some details are not valid. Check them and try again.';
    case 'expired_connect_session_token':
      return `This link has expired. ${back}`;
    case 'unknown_connect_session_token':
    case 'missing_auth_token':
      return `This link is not valid. ${back}`;
    case 'integration_not_allowed':
      return `Connecting ${name} is not available here. ${back}`;
    case 'state_err':
      return 'The sign-in took too long or was already used. Try again.';
    case 'provider_err':
    case 'token_err':
      return `${name} could not complete the connection. Try again in a moment.`;
    case 'origin_not_allowed':
      return `This page may not be used from here. ${back}`;
    default:
      return 'The connection could not be completed. Try again in a moment.';
  }
}

/** The end of every failed attempt: told to the parent, shown to the person. */
function failed(type, message, integration, retry) {
  emit({ type: 'error', payload: { errorType: type, errorMessage: message } });
  const fatal = ['expired_connect_session_token', 'unknown_connect_session_token', 'missing_auth_token'].includes(type);
  show(
    fatal ? 'This link cannot be used' : 'Not connected',
    null,
    el('p', { class: 'notice err', role: 'alert' }, friendly(type, integration)),
    el('details', {}, el('summary', {}, 'Details for support'), el('p', {}, `${type}: ${message}`)),
    el(
      'div',
      { class: 'actions' },
      !fatal && retry ? el('button', { type: 'button', class: 'primary', onclick: retry }, 'Try again') : null,
      offer && offer.integrations.length > 1 && !fatal
        ? el('button', { type: 'button', class: 'secondary', onclick: list }, 'Choose another')
        : null,
    ),
  );
}

// ------------------------------------------------------------------ the session

async function load() {
  if (!token) {
    if (embedded) {
      show('Loading…', 'Waiting for the session from the app.', el('div', { class: 'spinner', role: 'status', 'aria-label': 'Loading' }));
    } else {
      failed('missing_auth_token', 'The link has no session token.', null, null);
    }
    return;
  }
  show('Loading…', null, el('div', { class: 'spinner', role: 'status', 'aria-label': 'Loading' }));
  let response;
  try {
    response = await fetch(`${config.api}/connect/session`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch (e) {
    return failed('unknown_error', String(e), null, load);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    return failed(body?.error?.code ?? 'unknown_error', body?.error?.message ?? `HTTP ${response.status}`, null, load);
  }
  offer = body.data;
  if (offer.integrations.length === 1) return open(offer.integrations[0]);
  list();
}

function list() {
  if (offer.integrations.length === 0) {
    return show('Nothing to connect', app ? `${app} has not set up any integration for you yet.` : 'No integration is set up yet.');
  }
  show(
    'Choose an account to connect',
    null,
    el(
      'ul',
      { class: 'choices' },
      offer.integrations.map((i) =>
        el(
          'li',
          {},
          el(
            'button',
            { type: 'button', class: 'choice', onclick: () => open(i) },
            el('span', { class: 'mark', 'aria-hidden': 'true' }, initials(i.display_name)),
            el(
              'span',
              {},
              el('span', { class: 'name' }, i.display_name),
              el('span', { class: 'how' }, i.flow === 'popup' ? 'Sign in with your account' : 'Enter your credentials'),
            ),
          ),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ one integration

function input(field, id) {
  const secret = field.group === 'credentials' && (field.secret || /key|secret|password|token/i.test(field.name));
  const common = {
    id,
    name: field.name,
    required: field.required,
    'aria-describedby': `${id}-hint ${id}-problem`,
    autocomplete: 'off',
    spellcheck: 'false',
  };
  if (Array.isArray(field.enum)) {
    return el('select', common, el('option', { value: '' }, 'Choose…'), field.enum.map((v) => el('option', { value: v }, v)));
  }
  const type = secret ? 'password' : field.format === 'email' ? 'email' : 'text';
  return el('input', { ...common, type, placeholder: field.example ?? null });
}

function fieldRow(field, index) {
  const id = `field-${index}`;
  const control = input(field, id);
  return el(
    'div',
    { class: 'field', 'data-name': field.name },
    el('label', { for: id }, label(field.name), field.required ? null : el('span', { class: 'optional' }, ' (optional)')),
    el('div', { class: 'control' }, field.prefix ? el('span', {}, field.prefix) : null, control, field.suffix ? el('span', {}, field.suffix) : null),
    el('p', { class: 'hint', id: `${id}-hint` }, field.required ? '' : 'Leave it empty if you are not sure.'),
    el('p', { class: 'problem', id: `${id}-problem` }),
  );
}

const FORMATS = {
  hostname: (v) => /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v),
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  email: (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v),
  uri: (v) => /^https:\/\/[^\s]+$/.test(v),
};

/** The value to send, or the reason it can't be: the server's rules (providers'
 * `validate_connection_config`), checked here first so a mistake is shown at its field. */
function check(field, raw) {
  let v = raw.trim();
  if (field.group === 'connection_config') {
    if (field.prefix && v.startsWith(field.prefix)) v = v.slice(field.prefix.length);
    if (field.suffix && v.endsWith(field.suffix)) v = v.slice(0, -field.suffix.length);
  }
  if (!v) return field.required ? { problem: `Enter your ${label(field.name).toLowerCase()}.` } : { value: '' };
  if (Array.isArray(field.enum) && !field.enum.includes(v)) return { problem: 'Choose one of the listed values.' };
  if (field.pattern) {
    let re = null;
    try {
      re = new RegExp(field.pattern);
    } catch {
      /* a pattern only the server can evaluate: it checks */
    }
    if (re && !re.test(v)) return { problem: `This ${label(field.name).toLowerCase()} doesn't look right.` };
  }
  if (field.format && FORMATS[field.format] && !FORMATS[field.format](v)) {
    return { problem: `This ${label(field.name).toLowerCase()} doesn't look right.` };
  }
  return { value: v };
}

function open(integration) {
  const fields = integration.fields;
  const rows = fields.map(fieldRow);
  const button = el(
    'button',
    { type: 'submit', class: 'primary' },
    integration.flow === 'popup' ? `Continue to ${integration.display_name}` : 'Connect',
  );
  const form = el(
    'form',
    { novalidate: true, onsubmit: (e) => submit(e, integration, form) },
    rows,
    el(
      'div',
      { class: 'actions' },
      button,
      offer.integrations.length > 1 ? el('button', { type: 'button', class: 'secondary', onclick: list }, 'Back') : null,
    ),
  );
  const lead =
    integration.flow === 'popup'
      ? `A window opens where you sign in to ${integration.display_name} and allow access.`
      : `Enter your ${integration.display_name} details.`;
  show(`${offer.is_reconnecting ? 'Reconnect' : 'Connect'} ${integration.display_name}`, lead, form);
  if (fields.length > 0) form.querySelector('input,select')?.focus();
}

function submit(event, integration, form) {
  event.preventDefault();
  if (busy) return;
  const params = {};
  const credentials = {};
  let first = null;
  for (const field of integration.fields) {
    const row = form.querySelector(`[data-name="${CSS.escape(field.name)}"]`);
    const control = row.querySelector('input,select');
    const { value, problem } = check(field, control.value);
    row.classList.toggle('invalid', Boolean(problem));
    control.setAttribute('aria-invalid', problem ? 'true' : 'false');
    row.querySelector('.problem').textContent = problem ?? '';
    if (problem) first ??= control;
    else if (value) (field.group === 'credentials' ? credentials : params)[field.name] = value;
  }
  if (first) return first.focus();
  const retry = () => open(integration);
  if (integration.flow === 'popup') return popup(integration, params, retry);
  return post(integration, params, credentials, retry);
}

/** A redirect mode: the SDK opens the popup now, inside the click, and waits for its outcome. */
function popup(integration, params, retry) {
  let pending;
  try {
    const latchkey = new Latchkey({ host: config.api, connectSessionToken: token });
    pending = latchkey.auth(integration.unique_key, undefined, { params, detectClosedAuthWindow });
  } catch (e) {
    return failed(e.type ?? 'unknown_error', e.message, integration, retry);
  }
  busy = true;
  let cancelled = false;
  show(
    `Finish in the ${integration.display_name} window`,
    'Sign in and allow access there. This page updates when you are done.',
    el('div', { class: 'spinner', role: 'status', 'aria-label': 'Waiting for the sign-in window' }),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', onclick: () => { cancelled = true; busy = false; retry(); } }, 'Cancel'),
    ),
  );
  pending.then(
    (result) => !cancelled && connected(integration, result),
    (e) => !cancelled && failed(e.type ?? 'unknown_error', e.message, integration, retry),
  ).finally(() => { busy = false; });
}

/** A credentials mode: one POST of the fields; the server proves them with the provider. */
async function post(integration, params, credentials, retry) {
  const q = new URLSearchParams({ connect_session_token: token });
  for (const [k, v] of Object.entries(params)) q.set(`params[${k}]`, v);
  const url = `${config.api}/${integration.path}/${encodeURIComponent(integration.unique_key)}?${q}`;
  const hasBody = Object.keys(credentials).length > 0;
  busy = true;
  show(`Connecting ${integration.display_name}…`, null, el('div', { class: 'spinner', role: 'status', 'aria-label': 'Connecting' }));
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: hasBody ? { 'Content-Type': 'application/json' } : {},
      body: hasBody ? JSON.stringify(credentials) : undefined,
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      return failed(body?.error?.code ?? 'unknown_error', body?.error?.message ?? `HTTP ${response.status}`, integration, retry);
    }
    connected(integration, { providerConfigKey: body.providerConfigKey, connectionId: body.connectionId });
  } catch (e) {
    failed('unknown_error', String(e), integration, retry);
  } finally {
    busy = false;
  }
}

function connected(integration, result) {
  emit({ type: 'connect', payload: { providerConfigKey: result.providerConfigKey, connectionId: result.connectionId, isPending: false } });
  show(
    'Connected',
    null,
    el('p', { class: 'notice ok', role: 'status' }, `Your ${integration.display_name} account is connected${app ? ` to ${app}` : ''}.`),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'button', class: 'primary', onclick: close }, embedded ? 'Done' : 'Close'),
      offer.integrations.length > 1 ? el('button', { type: 'button', class: 'secondary', onclick: list }, 'Connect another') : null,
    ),
    embedded ? null : el('p', { class: 'hint' }, 'You can close this window.'),
  );
}

load();
