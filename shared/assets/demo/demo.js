// The demo page's logic: reads the form, calls the SDK exactly as an app would, shows the result.
// Field values (never a secret: the public key is public) are remembered in localStorage.
import { Latchkey, AuthError } from '/demo/latchkey.js';

const $ = (id) => document.getElementById(id);
const remembered = ['public-key', 'integration', 'connection-id', 'params', 'user-scope', 'mode'];
const sessionToken = new URLSearchParams(location.search).get('session_token');

$('host').value = location.origin;
if (sessionToken) {
  $('session-token').value = sessionToken;
  $('session-row').hidden = false;
  $('public-key-row').hidden = true;
  $('connection-id').placeholder = 'chosen by the server (connect session)';
  $('connection-id').disabled = true;
}
for (const id of remembered) {
  const v = localStorage.getItem(`latchkey-demo:${id}`);
  if (v !== null) $(id).value = v;
}

const credentialLabels = {
  oauth: null,
  'api-key': ['API key', null],
  basic: ['Username', 'Password'],
  'client-credentials': ['Client id', 'Client secret'],
};
function showMode() {
  const labels = credentialLabels[$('mode').value];
  $('cred-fields').hidden = !labels;
  if (!labels) return;
  $('cred-a-label').textContent = labels[0];
  $('cred-b-row').hidden = !labels[1];
  if (labels[1]) $('cred-b-label').textContent = labels[1];
}
$('mode').addEventListener('change', showMode);
showMode();

function show(kind, value) {
  $('result').className = kind;
  $('result').textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function options() {
  const params = {};
  for (const line of $('params').value.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) params[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  const opts = { params, detectClosedAuthWindow: $('detect-closed').checked };
  if ($('hmac').value.trim()) opts.hmac = $('hmac').value.trim();
  if ($('user-scope').value.trim()) opts.user_scope = $('user-scope').value.trim();
  const a = $('cred-a').value;
  const b = $('cred-b').value;
  switch ($('mode').value) {
    case 'api-key': opts.credentials = { apiKey: a }; break;
    case 'basic': opts.credentials = { username: a, password: b }; break;
    case 'client-credentials': opts.credentials = { client_id: a, client_secret: b }; break;
  }
  return opts;
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  for (const id of remembered) localStorage.setItem(`latchkey-demo:${id}`, $(id).value);
  let latchkey;
  try {
    latchkey = sessionToken
      ? new Latchkey({ host: location.origin, connectSessionToken: sessionToken })
      : new Latchkey({ host: location.origin, publicKey: $('public-key').value.trim() });
  } catch (e) {
    show('err', `${e.type}: ${e.message}`);
    return;
  }
  const integration = $('integration').value.trim();
  const connectionId = sessionToken ? undefined : $('connection-id').value.trim() || undefined;
  // auth() runs inside the submit (a click): the popup opens before anything is awaited.
  const pending = latchkey.auth(integration, connectionId, options());
  // Without detectClosedAuthWindow a closed popup leaves auth() waiting (a severed popup looks
  // closed too): the person can always stop waiting here.
  const stopped = new Promise((_, reject) => {
    $('stop').onclick = () => reject(new AuthError('You stopped waiting for the authorization.', 'stopped'));
  });
  $('connect').disabled = true;
  $('stop').hidden = false;
  show('idle', 'Waiting for the authorization… (closing the popup cancels it)');
  Promise.race([pending, stopped])
    .then((result) => show('ok', result))
    .catch((e) => show('err', e instanceof AuthError ? { type: e.type, message: e.message } : String(e)))
    .finally(() => {
      $('connect').disabled = false;
      $('stop').hidden = true;
    });
});
