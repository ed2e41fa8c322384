// Generated from sdk/frontend by `npm run build`; do not edit.
// Latchkey frontend SDK: lets a web app connect its users' third-party accounts with one call.
// OAuth runs in a popup opened synchronously inside the user's click (Safari blocks popups
// opened later) and then navigated to the Latchkey host; the result comes back by
// `postMessage` from the callback page (origin checked), by `BroadcastChannel` when the app
// shares the host's origin, or by polling `/oauth/result/{nonce}` — needed because providers'
// cross-origin-opener policies sever `window.opener`. Credential modes (API key, Basic, client
// credentials) are one JSON POST, no popup. Zero runtime dependencies.
export class AuthError extends Error {
    constructor(message, type) {
        super(message);
        this.name = 'AuthError';
        this.type = type;
    }
}
const SUCCESS = 'latchkey:auth:success';
const FAILURE = 'latchkey:auth:error';
const CHANNEL = 'latchkey-auth';
/** Past the OAuth session's lifetime nothing can arrive any more. */
const GIVE_UP_MS = 15 * 60 * 1000;
function randomNonce() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    let s = '';
    for (const b of bytes)
        s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function toError(e) {
    return e instanceof AuthError ? e : new AuthError(e instanceof Error ? e.message : String(e), 'unknown_error');
}
export class Latchkey {
    constructor(config) {
        const host = (config.host ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
        if (!/^https?:\/\//.test(host))
            throw new AuthError('host must be an http(s) URL.', 'invalid_config');
        if (!config.publicKey && !config.connectSessionToken) {
            throw new AuthError('Pass publicKey or connectSessionToken.', 'missing_auth_token');
        }
        this.host = host;
        this.publicKey = config.publicKey;
        this.connectSessionToken = config.connectSessionToken;
        this.width = config.width ?? 500;
        this.height = config.height ?? 650;
        this.pollIntervalMs = config.pollIntervalMs ?? 1000;
    }
    /**
     * Connects an account: OAuth in a popup, or the given `credentials` by POST. Call it directly
     * from a click handler (the popup is opened before anything is awaited).
     */
    auth(integration, connectionId, options = {}) {
        if (typeof connectionId === 'object') {
            options = connectionId;
            connectionId = undefined;
        }
        try {
            if (options.credentials)
                return this.submit(integration, connectionId, options);
            return this.popup(integration, connectionId, options);
        }
        catch (e) {
            return Promise.reject(toError(e));
        }
    }
    /** With a connect session token: a new connection, its id chosen by the server. */
    create(integration, options = {}) {
        return this.withSession(() => this.auth(integration, undefined, options));
    }
    /** With a reconnect session's token: re-authorizes the session's connection. */
    reconnect(integration, options = {}) {
        return this.withSession(() => this.auth(integration, undefined, options));
    }
    withSession(run) {
        if (!this.connectSessionToken) {
            return Promise.reject(new AuthError('create() and reconnect() need a connectSessionToken.', 'missing_auth_token'));
        }
        return run();
    }
    /** The query shared by every auth route (docs/api.md, "Frontend routes"). */
    query(connectionId, options, nonce) {
        const q = new URLSearchParams();
        if (connectionId)
            q.set('connection_id', connectionId);
        if (this.connectSessionToken)
            q.set('connect_session_token', this.connectSessionToken);
        else if (this.publicKey)
            q.set('public_key', this.publicKey);
        if (options.hmac)
            q.set('hmac', options.hmac);
        for (const [k, v] of Object.entries(options.params ?? {}))
            q.set(`params[${k}]`, String(v));
        for (const [k, v] of Object.entries(options.authorization_params ?? {})) {
            if (v !== undefined)
                q.set(`authorization_params[${k}]`, v);
        }
        const scope = Array.isArray(options.user_scope) ? options.user_scope.join(',') : options.user_scope;
        if (scope)
            q.set('user_scope', scope);
        if (nonce)
            q.set('client_nonce', nonce);
        return q;
    }
    async submit(integration, connectionId, options) {
        const c = options.credentials;
        // `type` first: a two-step entry's fields may be named username, apiKey or client_id; a
        // Bill login before Basic, as Nango's client tells them apart.
        const path = c.type === 'TWO_STEP'
            ? 'auth/two-step'
            : c.type === 'SIGNATURE'
                ? 'auth/signature'
                : c.type === 'AWS_SIGV4'
                    ? 'auth/aws-sigv4'
                    : 'organization_id' in c && 'dev_key' in c
                        ? 'auth/bill'
                        : 'apiKey' in c
                            ? 'api-auth/api-key'
                            : 'username' in c
                                ? 'api-auth/basic'
                                : 'client_id' in c
                                    ? 'oauth2/auth'
                                    : '';
        if (!path)
            throw new AuthError("credentials need apiKey, username/password, client_id/client_secret or type: 'TWO_STEP'.", 'invalid_credentials');
        const url = `${this.host}/${path}/${encodeURIComponent(integration)}?${this.query(connectionId, options)}`;
        let response;
        try {
            response = await fetch(url, {
                method: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify(c),
            });
        }
        catch (e) {
            throw new AuthError(`Could not reach ${this.host}: ${toError(e).message}`, 'unknown_error');
        }
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
            const err = body?.error ?? {};
            throw new AuthError(err.message ?? `HTTP ${response.status}`, err.code ?? 'unknown_error');
        }
        return { providerConfigKey: body.providerConfigKey, connectionId: body.connectionId };
    }
    popup(integration, connectionId, options) {
        const nonce = randomNonce();
        const url = `${this.host}/oauth/connect/${encodeURIComponent(integration)}?${this.query(connectionId, options, nonce)}`;
        const w = window;
        const left = (w.screenX ?? 0) + Math.max(0, ((w.outerWidth ?? this.width) - this.width) / 2);
        const top = (w.screenY ?? 0) + Math.max(0, ((w.outerHeight ?? this.height) - this.height) / 2);
        // Synchronous, inside the click: then navigated.
        const popup = w.open('', `latchkey_${nonce.slice(0, 12)}`, `popup,width=${this.width},height=${this.height},left=${left},top=${top}`);
        if (!popup) {
            return Promise.reject(new AuthError('The browser blocked the authorization popup.', 'blocked_by_browser'));
        }
        popup.location.href = url;
        const hostOrigin = new URL(this.host).origin;
        return new Promise((resolve, reject) => {
            let done = false;
            const timers = [];
            let channel;
            const started = Date.now();
            const finish = (result, error) => {
                if (done)
                    return;
                done = true;
                w.removeEventListener('message', onMessage);
                channel?.close();
                timers.forEach(clearTimeout);
                try {
                    if (!popup.closed)
                        popup.close();
                }
                catch {
                    /* severed */
                }
                if (error)
                    reject(error);
                else
                    resolve(result);
            };
            // One reader for every channel: the message of the result page, or the polled body.
            const settle = (m) => {
                if (m.type === SUCCESS || m.status === 'success') {
                    if (m.providerConfigKey !== integration)
                        return false;
                    if (connectionId && m.connectionId !== connectionId)
                        return false;
                    finish({ providerConfigKey: m.providerConfigKey, connectionId: m.connectionId });
                    return true;
                }
                if (m.type === FAILURE || m.status === 'error') {
                    finish(undefined, new AuthError(m.error_desc ?? 'Authorization failed.', m.error_type ?? 'unknown_error'));
                    return true;
                }
                return false;
            };
            const onMessage = (event) => {
                if (event.origin !== hostOrigin || event.source !== popup || typeof event.data !== 'object' || !event.data)
                    return;
                settle(event.data);
            };
            w.addEventListener('message', onMessage);
            if (typeof BroadcastChannel === 'function' && w.location?.origin === hostOrigin) {
                channel = new BroadcastChannel(CHANNEL);
                channel.onmessage = (e) => e.data && settle(e.data);
            }
            const poll = async () => {
                try {
                    const r = await fetch(`${this.host}/oauth/result/${nonce}`, { cache: 'no-store' });
                    if (r.ok)
                        return settle((await r.json()));
                }
                catch {
                    /* offline for a moment: try again */
                }
                return false;
            };
            const schedule = () => {
                timers.push(setTimeout(async () => {
                    if (done)
                        return;
                    if (Date.now() - started > GIVE_UP_MS) {
                        return finish(undefined, new AuthError('The authorization did not finish in time.', 'state_err'));
                    }
                    let closed = false;
                    try {
                        closed = popup.closed;
                    }
                    catch {
                        /* severed */
                    }
                    // A closed popup may just have delivered the result: one last poll decides.
                    if ((await poll()) || done)
                        return;
                    if (closed && options.detectClosedAuthWindow) {
                        return finish(undefined, new AuthError('The authorization window was closed.', 'window_closed'));
                    }
                    schedule();
                }, this.pollIntervalMs));
            };
            schedule();
        });
    }
}
export default Latchkey;
