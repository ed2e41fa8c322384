// Latchkey console: progressive enhancement of server-rendered pages. Every page works without
// this script; with it, copy buttons copy, confirmations ask, the catalog filters as you type,
// revealed credentials arrive without a reload, connection config is checked as the server
// checks it, and Test connect runs the frontend SDK (popup or credentials). No secret key is
// ever held here: changes carry the session's CSRF token, the session itself is an HttpOnly cookie.
const meta = document.querySelector('meta[name="latchkey-console"]');
const BASE = meta ? meta.dataset.base : '/console';
const CSRF = meta ? meta.dataset.csrf : '';

/** A change through the console's own routes, answered in JSON. */
async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': CSRF },
    body: JSON.stringify(body ?? {}),
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(json.error?.message ?? `HTTP ${r.status}`), { code: json.error?.code });
  return json;
}

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// Copy buttons.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const target = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(target.textContent);
      button.textContent = 'Copied';
    } catch {
      getSelection().selectAllChildren(target);
      button.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => (button.textContent = 'Copy'), 2000);
  });
}

// Confirmations (the server still asks for what matters, e.g. the integration's key).
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (ev) => {
    if (!confirm(form.dataset.confirm)) ev.preventDefault();
  });
}

// The catalog filters as you type: the same search, rendered by the server.
for (const form of document.querySelectorAll('form[data-live-search]')) {
  const results = document.getElementById(form.dataset.liveSearch);
  let timer;
  let latest = 0;
  const run = () => {
    const url = `${form.action}?${new URLSearchParams(new FormData(form))}`;
    const mine = ++latest;
    fetch(url, { credentials: 'same-origin' })
      .then((r) => r.text())
      .then((html) => {
        if (mine !== latest) return;
        const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById(results.id);
        if (fresh) results.replaceChildren(...fresh.childNodes);
        history.replaceState(null, '', url);
      })
      .catch(() => {});
  };
  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
}

// Reveal credentials in place (the server records the reveal).
for (const form of document.querySelectorAll('form[data-reveal]')) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const table = document.getElementById(form.dataset.reveal);
    try {
      const { credentials } = await post(form.action);
      for (const cell of table.querySelectorAll('td[data-field]')) {
        const value = credentials[cell.dataset.field];
        if (value === undefined) continue;
        const code = el('code', { class: 'secret' }, typeof value === 'string' ? value : JSON.stringify(value));
        cell.replaceChildren(code);
      }
      form.replaceWith(el('p', { class: 'hint', role: 'status' }, 'Shown for you; this reveal is in the activity log. Reload to hide them.'));
    } catch (e) {
      form.append(el('p', { class: 'error', role: 'alert' }, e.message));
    }
  });
}

// Connection config, checked as the server checks it: trimmed, the catalog's prefix and suffix
// taken off, then its pattern and format.
const FORMATS = {
  hostname: (v) => hostPart(v) && !v.includes(':'),
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  email: (v) => {
    const parts = v.split('@');
    return parts.length === 2 && /^[!-~]+$/.test(parts[0]) && hostPart(parts[1]) && parts[1].includes('.');
  },
  uri: (v) => {
    try {
      return new URL(v).protocol === 'https:';
    } catch {
      return false;
    }
  },
};
const FORMAT_TEXT = { hostname: 'a host name', uuid: 'a UUID', email: 'an email address', uri: 'an https URL' };
function hostPart(v) {
  const [host, port, extra] = v.split(':');
  if (extra !== undefined) return false;
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return false;
  return host !== '' && host.split('.').every((l) => /^[A-Za-z0-9_-]+$/.test(l));
}

function configValue(input) {
  let v = input.value.trim();
  const { prefix, suffix } = input.dataset;
  if (prefix && v.startsWith(prefix)) v = v.slice(prefix.length);
  if (suffix && v.endsWith(suffix)) v = v.slice(0, -suffix.length);
  return v;
}

function checkConfig(input) {
  const v = configValue(input);
  let problem = '';
  if (v === '') {
    problem = input.required ? 'Required.' : '';
  } else if (/[\u0000-\u001f\u007f]/.test(v)) {
    problem = 'No control characters.';
  } else if (input.dataset.pattern) {
    let re = null;
    try {
      re = new RegExp(input.dataset.pattern, 'u');
    } catch {
      re = null; // the server's pattern dialect; the server checks it anyway
    }
    if (re && !re.test(v)) problem = "It does not match the provider's pattern.";
  }
  const format = input.dataset.format;
  if (!problem && v && format && FORMATS[format] && !FORMATS[format](v)) problem = `It must be ${FORMAT_TEXT[format]}.`;
  input.setCustomValidity(problem);
  const error = document.getElementById(`${input.id}-error`);
  if (error) error.textContent = problem;
  if (problem) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  return problem === '';
}

for (const input of document.querySelectorAll('input[data-config-field]')) {
  input.addEventListener('input', () => checkConfig(input));
  input.addEventListener('blur', () => {
    input.dataset.touched = '1';
    checkConfig(input);
  });
}

// Test connect through the frontend SDK, with the environment's public key.
const connect = document.getElementById('test-connect');
if (connect) {
  const result = document.getElementById('connect-result');
  const button = document.getElementById('connect-button');
  const idInput = connect.querySelector('#connection_id');
  const d = connect.dataset;
  let hmac = d.hmac || '';
  const { Latchkey } = await import('../../demo/latchkey.js');

  // With HMAC on, the digest is fetched before the click: the popup must open at once.
  let pending = null;
  idInput.addEventListener('input', () => {
    if (!d.hmac) return;
    button.disabled = true;
    const id = idInput.value.trim();
    pending = post(d.digestUrl, { connection_id: id })
      .then((r) => {
        if (idInput.value.trim() === id) hmac = r.hmac ?? '';
      })
      .catch(() => (hmac = ''))
      .finally(() => {
        if (idInput.value.trim() === id) button.disabled = false;
      });
  });

  const show = (kind, nodes) => {
    result.replaceChildren(el('p', { class: `notice ${kind}`, role: kind === 'ok' ? 'status' : 'alert' }));
    result.firstChild.append(...nodes);
  };

  connect.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fields = [...connect.querySelectorAll('input[data-config-field]')];
    const valid = fields.map(checkConfig).every(Boolean) && connect.checkValidity();
    if (!valid) {
      connect.reportValidity();
      return;
    }
    const params = {};
    for (const f of connect.querySelectorAll('[name^="params["]')) {
      const v = f.matches('[data-config-field]') ? configValue(f) : f.value;
      if (v) params[f.name.slice(7, -1)] = v;
    }
    const credentials = {};
    for (const f of connect.querySelectorAll('[data-credential]')) {
      if (f.value !== '' || d.mode === 'OAUTH2_CC') credentials[f.dataset.credential] = f.value || undefined;
    }
    // A two-step entry's fields go to its own route, whatever they are named.
    if (d.mode === 'TWO_STEP') credentials.type = 'TWO_STEP';
    // A WSSE login is a username and secret too: its type names its route, as in Nango's client.
    if (d.mode === 'SIGNATURE') credentials.type = 'SIGNATURE';
    const connectionId = idInput.value.trim();
    const latchkey = new Latchkey({ host: d.host, publicKey: d.publicKey });
    const options = { params, detectClosedAuthWindow: true };
    if (hmac) options.hmac = hmac;
    if (Object.keys(credentials).length) options.credentials = credentials;
    show('ok', [document.createTextNode('Connecting…')]);
    // Called in the submit handler itself: the popup opens before anything is awaited.
    latchkey
      .auth(d.integration, connectionId, options)
      .then((r) => {
        const link = el('a', { href: `${d.connectionUrl}${encodeURIComponent(r.connectionId)}` }, `connection ${r.connectionId}`);
        show('ok', [document.createTextNode('Connected: '), link, document.createTextNode('.')]);
      })
      .catch((e) => {
        const code = el('code', {}, e.type ?? 'unknown_error');
        const activity = el('a', { href: `${BASE}/activity?connection_id=${encodeURIComponent(connectionId)}` }, 'Activity');
        show('err', [
          document.createTextNode('Not connected: '),
          code,
          document.createTextNode(` ${e.message} See `),
          activity,
          document.createTextNode('.'),
        ]);
      });
  });
  void pending;
}
