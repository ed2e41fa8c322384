"""The provider side of OAuth 1.0a (RFC 5849) and NetSuite TBA, built on oauthlib's server
endpoints, which verify every signature Latchkey sends.

Served over TLS on 127.0.0.1 with a certificate for the providers' own names, signed by a test
certificate authority made at start (`make_certificates` of the two-step peer, the `openssl`
command); the test trusts that CA and leads the names to this port, so the catalog's URLs are
used exactly as the catalog writes them.

- Trello (`trello`, HMAC-SHA1): `POST /1/OAuthGetRequestToken` (oauthlib's
  RequestTokenEndpoint), `GET /1/OAuthAuthorizeToken?oauth_token=…` (AuthorizationEndpoint: the
  user approves at once and the browser goes to the request token's `oauth_callback` with
  `oauth_token` and `oauth_verifier`), `POST /1/OAuthGetAccessToken` (AccessTokenEndpoint).
- Garmin (`garmin`, signed RSA-SHA1 by a consumer whose PUBLIC key the peer holds): the same
  three steps at `/oauth-service/oauth/request_token`, `/oauthConfirm` and
  `/oauth-service/oauth/access_token`.
- NetSuite (`netsuite-tba`, HMAC-SHA256 with a token the peer issued, realm the account's):
  `GET /services/rest/record/v1/metadata-catalog` (ResourceEndpoint).

Every endpoint checks the signature method the consumer registered, the timestamp (oauthlib:
within ten minutes of now) and that no nonce is used twice; request tokens and verifiers are
single use. The plain control port takes `POST /_config` ({callback, consumers: {key: {secret |
rsa_public_key, method, realm?}}, tba_tokens: {id: secret}}) and answers `GET /_stats` (what was
issued, every authorization request's query, every refusal's reason). Prints one JSON line when
ready ({"port", "control_port", "ca"}), and exits when its stdin closes.
"""

import json
import os
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from oauthlib.oauth1 import (AccessTokenEndpoint, AuthorizationEndpoint, RequestTokenEndpoint,
                             RequestValidator, ResourceEndpoint)
from oauthlib.oauth1.rfc5849 import errors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "two_step"))
from server import make_certificates  # noqa: E402  (the two-step peer's test CA)

HOSTS = ["trello.com", "api.trello.com", "connectapi.garmin.com", "connect.garmin.com",
         "1234567-sb1.suitetalk.api.netsuite.com"]

lock = threading.Lock()
config = {"callback": None, "consumers": {}, "tba_tokens": {}}
state = {"request_tokens": {}, "verifiers": {}, "access_tokens": {}, "nonces": set()}
stats = {"request_tokens": 0, "access_tokens": 0, "resources": 0, "authorizations": [], "refused": []}


class Validator(RequestValidator):
    """What a provider knows: its consumers, the tokens it issued, the nonces it saw."""

    # Token ids and consumer keys of NetSuite are 64 hex digits; Latchkey's nonces are 30.
    client_key_length = (20, 64)
    request_token_length = (20, 64)
    access_token_length = (20, 64)
    nonce_length = (20, 64)
    verifier_length = (20, 64)
    dummy_client = "dummy-client-key-000000"
    dummy_request_token = "dummy-request-token-0000"
    dummy_access_token = "dummy-access-token-00000"

    def consumer(self, client_key):
        return config["consumers"].get(client_key)

    def validate_client_key(self, client_key, request):
        c = self.consumer(client_key)
        # The consumer signs with the method it registered, and nothing else.
        return c is not None and request.signature_method == c["method"]

    def get_client_secret(self, client_key, request):
        c = self.consumer(client_key) or {}
        return c.get("secret", "dummy")

    def get_rsa_key(self, client_key, request):
        return (self.consumer(client_key) or {}).get("rsa_public_key")

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        seen = (client_key, timestamp, nonce, request_token, access_token)
        with lock:
            if seen in state["nonces"]:
                return False
            state["nonces"].add(seen)
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return bool(config["callback"]) and redirect_uri.startswith(config["callback"] + "?state=")

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def get_default_realms(self, client_key, request):
        return []

    def save_request_token(self, token, request):
        with lock:
            state["request_tokens"][token["oauth_token"]] = {
                "secret": token["oauth_token_secret"], "client": request.client_key,
                "callback": request.redirect_uri}
            stats["request_tokens"] += 1

    def verify_request_token(self, token, request):
        return token in state["request_tokens"]

    def verify_realms(self, token, realms, request):
        return True

    def get_redirect_uri(self, token, request):
        return state["request_tokens"][token]["callback"]

    def save_verifier(self, token, verifier, request):
        with lock:
            state["verifiers"][token] = verifier["oauth_verifier"]

    def validate_request_token(self, client_key, token, request):
        t = state["request_tokens"].get(token)
        return t is not None and t["client"] == client_key

    def get_request_token_secret(self, client_key, token, request):
        t = state["request_tokens"].get(token)
        return t["secret"] if t else "dummy"

    def validate_verifier(self, client_key, token, verifier, request):
        return state["verifiers"].get(token) == verifier

    def get_realms(self, token, request):
        return []

    def invalidate_request_token(self, client_key, request_token, request):
        with lock:
            state["request_tokens"].pop(request_token, None)
            state["verifiers"].pop(request_token, None)

    def save_access_token(self, token, request):
        with lock:
            state["access_tokens"][token["oauth_token"]] = {
                "secret": token["oauth_token_secret"], "client": request.client_key}
            stats["access_tokens"] += 1

    def access_token(self, token):
        issued = state["access_tokens"].get(token)
        if issued:
            return issued
        if token in config["tba_tokens"]:
            return {"secret": config["tba_tokens"][token], "client": None}
        return None

    def validate_access_token(self, client_key, token, request):
        t = self.access_token(token)
        return t is not None and t["client"] in (None, client_key)

    def get_access_token_secret(self, client_key, token, request):
        t = self.access_token(token)
        return t["secret"] if t else "dummy"

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        # NetSuite's realm is the account: the consumer's, as the header names it.
        want = (self.consumer(client_key) or {}).get("realm")
        return want is None or getattr(request, "realm", None) == want


validator = Validator()
ENDPOINTS = {
    "/1/OAuthGetRequestToken": RequestTokenEndpoint(validator),
    "/oauth-service/oauth/request_token": RequestTokenEndpoint(validator),
    "/1/OAuthAuthorizeToken": AuthorizationEndpoint(validator),
    "/oauthConfirm": AuthorizationEndpoint(validator),
    "/1/OAuthGetAccessToken": AccessTokenEndpoint(validator),
    "/oauth-service/oauth/access_token": AccessTokenEndpoint(validator),
    "/services/rest/record/v1/metadata-catalog": ResourceEndpoint(validator),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, headers=None, body=b""):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self, status, reason):
        with lock:
            stats["refused"].append(reason)
        self.answer(status, {"Content-Type": "text/plain"}, reason)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()

    def do_GET(self):
        if self.server.control:
            if self.path == "/_stats":
                with lock:
                    return self.answer(200, {"Content-Type": "application/json"}, json.dumps(stats))
            return self.refuse(404, "not_found")
        self.provider("GET")

    def do_POST(self):
        if self.server.control:
            if self.path == "/_config":
                with lock:
                    config.update(json.loads(self.body()))
                return self.answer(204)
            return self.refuse(404, "not_found")
        self.provider("POST")

    def provider(self, method):
        path = urlsplit(self.path).path
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            return self.refuse(404, f"no endpoint {path}")
        uri = f"https://{self.headers['Host']}{self.path}"
        body = self.body() if method == "POST" else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        try:
            if isinstance(endpoint, RequestTokenEndpoint):
                h, b, s = endpoint.create_request_token_response(uri, method, body, headers)
            elif isinstance(endpoint, AuthorizationEndpoint):
                with lock:
                    stats["authorizations"].append(parse_qs(urlsplit(self.path).query))
                h, b, s = endpoint.create_authorization_response(uri, method, body, headers)
            elif isinstance(endpoint, AccessTokenEndpoint):
                h, b, s = endpoint.create_access_token_response(uri, method, body, headers)
            else:
                valid, _ = endpoint.validate_protected_resource_request(uri, method, body, headers)
                if not valid:
                    return self.refuse(401, f"{path}: the signed request was not valid")
                with lock:
                    stats["resources"] += 1
                return self.answer(200, {"Content-Type": "application/json"}, json.dumps({"items": []}))
        except errors.OAuth1Error as e:
            return self.refuse(e.status_code, f"{path}: {e.description}")
        if s >= 400:
            return self.refuse(s, f"{path}: {b}")
        self.answer(s, h, b or b"")


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    directory = tempfile.mkdtemp(prefix="oauth1-peer-")
    ca, cert, key = make_certificates(directory, HOSTS)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    tls.control = False
    control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    control.control = True
    serve(tls)
    serve(control)
    with open(ca) as f:
        ca_pem = f.read()
    print(json.dumps({"port": tls.server_address[1], "control_port": control.server_address[1], "ca": ca_pem}),
          flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
