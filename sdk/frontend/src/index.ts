// Latchkey frontend SDK: lets a web app connect its users' third-party accounts with one call.
// OAuth runs in a popup opened synchronously inside the user's click (Safari blocks popups
// opened later) and then navigated to the Latchkey host; the result comes back by
// `postMessage` from the callback page (origin checked), by `BroadcastChannel` when the app
// shares the host's origin, or by polling `/oauth/result/{nonce}` — needed because providers'
// cross-origin-opener policies sever `window.opener`. Credential modes (API key, Basic, client
// credentials) are one JSON POST, no popup. Zero runtime dependencies.

/** Error types: the server's error codes plus the SDK's own (`blocked_by_browser`, `window_closed`, `unknown_error`). */
export type AuthErrorType =
  | 'blocked_by_browser'
  | 'window_closed'
  | 'missing_auth_token'
  | 'invalid_auth_token'
  | 'missing_hmac'
  | 'invalid_hmac'
  | 'unknown_connect_session_token'
  | 'expired_connect_session_token'
  | 'integration_not_allowed'
  | 'origin_not_allowed'
  | 'unknown_provider_config'
  | 'invalid_auth_mode'
  | 'invalid_query_params'
  | 'invalid_connection_id'
  | 'invalid_connection_config'
  | 'invalid_credentials'
  | 'connection_test_failed'
  | 'access_denied'
  | 'provider_err'
  | 'state_err'
  | 'token_err'
  | 'server_error'
  | 'invalid_config'
  | 'unknown_error'
  | (string & {});

export class AuthError extends Error {
  readonly type: AuthErrorType;
  constructor(message: string, type: AuthErrorType) {
    super(message);
    this.name = 'AuthError';
    this.type = type;
  }
}

export type LatchkeyConfig = {
  /** The Latchkey host, e.g. `https://auth.example.com` (default: this page's origin). */
  host?: string;
  /** Popup size. */
  width?: number;
  height?: number;
  /** Milliseconds between polls of the result endpoint (default 1000). */
  pollIntervalMs?: number;
} & ({ publicKey: string; connectSessionToken?: undefined } | { connectSessionToken: string; publicKey?: undefined });

/** API key, Basic, OAuth2 client credentials, a two-step entry's fields (by the catalog's
 * names, with `type: 'TWO_STEP'` as Nango's client takes them), a WSSE login
 * (`type: 'SIGNATURE'`) or a Bill login: sent by JSON POST instead of a popup. */
export type Credentials =
  | { apiKey: string }
  | { username: string; password: string }
  | { client_id: string; client_secret: string }
  | ({ type: 'TWO_STEP' } & Record<string, string>)
  | { type: 'SIGNATURE'; username: string; password: string }
  | { username: string; password: string; organization_id: string; dev_key: string };

export interface AuthOptions {
  /** Connection config, e.g. `{ subdomain: 'acme' }`. */
  params?: Record<string, string>;
  /** hex HMAC-SHA256(hmac key, "<integration>:<connectionId>") from your backend, when HMAC is on. */
  hmac?: string;
  /** Extra scopes for this connection. */
  user_scope?: string[] | string;
  /** Extra query parameters of the provider's authorization URL. */
  authorization_params?: Record<string, string | undefined>;
  /** Submit credentials instead of running OAuth. */
  credentials?: Credentials;
  /** Reject with `window_closed` when the user closes the popup. Off by default: a provider
   * whose cross-origin-opener policy severs the popup makes it look closed while it is open. */
  detectClosedAuthWindow?: boolean;
}

export interface AuthResult {
  providerConfigKey: string;
  connectionId: string;
}

type ResultMessage = {
  type?: string;
  status?: string;
  providerConfigKey?: string;
  connectionId?: string;
  error_type?: string;
  error_desc?: string;
};

const SUCCESS = 'latchkey:auth:success';
const FAILURE = 'latchkey:auth:error';
const CHANNEL = 'latchkey-auth';
/** Past the OAuth session's lifetime nothing can arrive any more. */
const GIVE_UP_MS = 15 * 60 * 1000;

function randomNonce(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function toError(e: unknown): AuthError {
  return e instanceof AuthError ? e : new AuthError(e instanceof Error ? e.message : String(e), 'unknown_error');
}

export class Latchkey {
  readonly host: string;
  private readonly publicKey?: string;
  private readonly connectSessionToken?: string;
  private readonly width: number;
  private readonly height: number;
  private readonly pollIntervalMs: number;

  constructor(config: LatchkeyConfig) {
    const host = (config.host ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(host)) throw new AuthError('host must be an http(s) URL.', 'invalid_config');
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
  auth(integration: string, connectionId?: string | AuthOptions, options: AuthOptions = {}): Promise<AuthResult> {
    if (typeof connectionId === 'object') {
      options = connectionId;
      connectionId = undefined;
    }
    try {
      if (options.credentials) return this.submit(integration, connectionId, options);
      return this.popup(integration, connectionId, options);
    } catch (e) {
      return Promise.reject(toError(e));
    }
  }

  /** With a connect session token: a new connection, its id chosen by the server. */
  create(integration: string, options: AuthOptions = {}): Promise<AuthResult> {
    return this.withSession(() => this.auth(integration, undefined, options));
  }

  /** With a reconnect session's token: re-authorizes the session's connection. */
  reconnect(integration: string, options: AuthOptions = {}): Promise<AuthResult> {
    return this.withSession(() => this.auth(integration, undefined, options));
  }

  private withSession(run: () => Promise<AuthResult>): Promise<AuthResult> {
    if (!this.connectSessionToken) {
      return Promise.reject(new AuthError('create() and reconnect() need a connectSessionToken.', 'missing_auth_token'));
    }
    return run();
  }

  /** The query shared by every auth route (docs/api.md, "Frontend routes"). */
  private query(connectionId: string | undefined, options: AuthOptions, nonce?: string): URLSearchParams {
    const q = new URLSearchParams();
    if (connectionId) q.set('connection_id', connectionId);
    if (this.connectSessionToken) q.set('connect_session_token', this.connectSessionToken);
    else if (this.publicKey) q.set('public_key', this.publicKey);
    if (options.hmac) q.set('hmac', options.hmac);
    for (const [k, v] of Object.entries(options.params ?? {})) q.set(`params[${k}]`, String(v));
    for (const [k, v] of Object.entries(options.authorization_params ?? {})) {
      if (v !== undefined) q.set(`authorization_params[${k}]`, v);
    }
    const scope = Array.isArray(options.user_scope) ? options.user_scope.join(',') : options.user_scope;
    if (scope) q.set('user_scope', scope);
    if (nonce) q.set('client_nonce', nonce);
    return q;
  }

  private async submit(integration: string, connectionId: string | undefined, options: AuthOptions): Promise<AuthResult> {
    const c = options.credentials as Record<string, string>;
    // `type` first: a two-step entry's fields may be named username, apiKey or client_id; a
    // Bill login before Basic, as Nango's client tells them apart.
    const path =
      c.type === 'TWO_STEP'
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
      throw new AuthError(
        "credentials need apiKey, username/password, client_id/client_secret or type: 'TWO_STEP'.",
        'invalid_credentials',
      );
    const url = `${this.host}/${path}/${encodeURIComponent(integration)}?${this.query(connectionId, options)}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(c),
      });
    } catch (e) {
      throw new AuthError(`Could not reach ${this.host}: ${toError(e).message}`, 'unknown_error');
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = body?.error ?? {};
      throw new AuthError(err.message ?? `HTTP ${response.status}`, err.code ?? 'unknown_error');
    }
    return { providerConfigKey: body.providerConfigKey, connectionId: body.connectionId };
  }

  private popup(integration: string, connectionId: string | undefined, options: AuthOptions): Promise<AuthResult> {
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

    return new Promise<AuthResult>((resolve, reject) => {
      let done = false;
      const timers: ReturnType<typeof setTimeout>[] = [];
      let channel: BroadcastChannel | undefined;
      const started = Date.now();

      const finish = (result?: AuthResult, error?: AuthError) => {
        if (done) return;
        done = true;
        w.removeEventListener('message', onMessage);
        channel?.close();
        timers.forEach(clearTimeout);
        try {
          if (!popup.closed) popup.close();
        } catch {
          /* severed */
        }
        if (error) reject(error);
        else resolve(result as AuthResult);
      };

      // One reader for every channel: the message of the result page, or the polled body.
      const settle = (m: ResultMessage): boolean => {
        if (m.type === SUCCESS || m.status === 'success') {
          if (m.providerConfigKey !== integration) return false;
          if (connectionId && m.connectionId !== connectionId) return false;
          finish({ providerConfigKey: m.providerConfigKey, connectionId: m.connectionId as string });
          return true;
        }
        if (m.type === FAILURE || m.status === 'error') {
          finish(undefined, new AuthError(m.error_desc ?? 'Authorization failed.', m.error_type ?? 'unknown_error'));
          return true;
        }
        return false;
      };

      const onMessage = (event: MessageEvent) => {
        if (event.origin !== hostOrigin || event.source !== popup || typeof event.data !== 'object' || !event.data) return;
        settle(event.data as ResultMessage);
      };
      w.addEventListener('message', onMessage);

      if (typeof BroadcastChannel === 'function' && w.location?.origin === hostOrigin) {
        channel = new BroadcastChannel(CHANNEL);
        channel.onmessage = (e) => e.data && settle(e.data as ResultMessage);
      }

      const poll = async (): Promise<boolean> => {
        try {
          const r = await fetch(`${this.host}/oauth/result/${nonce}`, { cache: 'no-store' });
          if (r.ok) return settle((await r.json()) as ResultMessage);
        } catch {
          /* offline for a moment: try again */
        }
        return false;
      };

      const schedule = () => {
        timers.push(
          setTimeout(async () => {
            if (done) return;
            if (Date.now() - started > GIVE_UP_MS) {
              return finish(undefined, new AuthError('The authorization did not finish in time.', 'state_err'));
            }
            let closed = false;
            try {
              closed = popup.closed;
            } catch {
              /* severed */
            }
            // A closed popup may just have delivered the result: one last poll decides.
            if ((await poll()) || done) return;
            if (closed && options.detectClosedAuthWindow) {
              return finish(undefined, new AuthError('The authorization window was closed.', 'window_closed'));
            }
            schedule();
          }, this.pollIntervalMs),
        );
      };
      schedule();
    });
  }
}

export default Latchkey;
