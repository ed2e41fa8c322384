"""A stand-in for GitHub's side of a GitHub App: the installation page and the installation
access token endpoint, as GitHub checks them.

Served over TLS on 127.0.0.1 with a certificate for github.com and api.github.com signed by a
test certificate authority made at start with the `openssl` command; the test trusts that CA
(`Config::extra_root_certificates`) and leads both names to this port, so the catalog's URLs are
used exactly as `github-app` writes them.

- `GET /apps/<slug>/installations/new?state=…` (github.com): the app is installed; the browser
  is sent to the app's Setup URL with `installation_id`, `setup_action=install` and `state`, and,
  when the app requests user authorization during installation (`oauth` configured), a one-time
  `code` for the installing user.
- `POST /login/oauth/access_token` (github.com): the user authorization's token endpoint, as
  GitHub checks it: the app's OAuth client id and secret (form body or HTTP Basic), then either
  a known, unused, unexpired code (ten minutes) whose `redirect_uri`, if sent, is the Setup URL,
  or `grant_type=refresh_token` with a known, unused refresh token (GitHub rotates them). It
  issues `ghu_<n>` for eight hours and `ghr_<n>`, answering JSON when asked
  (`Accept: application/json`) and form-encoded otherwise, as GitHub does; refusals are
  GitHub's `{"error", "error_description"}` with status 200, as GitHub answers them.
- `POST /app/installations/<id>/access_tokens` (api.github.com): the app JWT in
  `Authorization: Bearer` is verified by npm `jose` (`tests/peers/oidc/verify_jwt.mjs`, an
  implementation independent of Latchkey's signer) against the app's PUBLIC key, RS256 only,
  `iss` the app id, not expired at the test clock's time; then `iat` is not in the future and
  `exp` at most ten minutes after `iat` and after now, as GitHub requires; `Accept` is
  `application/vnd.github+json`; the installation is one of the app's. Only then a token
  `ghs_<n>` is issued with a one-hour `expires_at`. Refusals answer GitHub's JSON
  (`{"message", "documentation_url"}`) with 401 (the JWT) or 404 (the installation).

The plain control port takes `POST /_config` ({app_id, public_key, setup_url, installations,
oauth: {client_id, client_secret}})
and `POST /_now` ({now}: the test clock's unix time), and answers `GET /_stats` (issued,
refused, and every refusal's reason). Prints one JSON line when ready ({"port",
"control_port", "ca"}), and exits when its stdin closes.
"""

import base64
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

HOSTS = ["github.com", "api.github.com"]
HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY_JWT = os.path.join(HERE, "..", "oidc", "verify_jwt.mjs")
LIFETIME = 3600

lock = threading.Lock()
config = {"app_id": None, "public_key": None, "setup_url": None, "installations": [], "now": None,
          "oauth": None}
stats = {"issued": 0, "refused": 0, "reasons": [], "user_issued": 0, "user_refused": 0, "user_reasons": []}
codes = {}  # code -> issued at
refresh_tokens = set()
USER_LIFETIME = 8 * 3600
CODE_LIFETIME = 600


def make_certificates(directory):
    """A CA, and a server certificate for HOSTS it signed: (ca.pem, cert.pem, key.pem)."""

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=github-app test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=github-app peer")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=" + ",".join(f"DNS:{h}" for h in HOSTS) + "\n")
        f.write("extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
    return [os.path.join(directory, n) for n in ("ca.pem", "cert.pem", "key.pem")]


def now_unlocked():
    return config["now"] if config["now"] is not None else int(time.time())


def now():
    with lock:
        return now_unlocked()


def jose_verdict(jwt):
    """jose's verdict on the app JWT: {"header", "payload"} or {"error"}."""
    with lock:
        check = {"jwt": jwt, "alg": "RS256", "key": config["public_key"], "issuer": config["app_id"]}
    check["now"] = now()
    out = subprocess.run(["node", VERIFY_JWT], input=json.dumps(check), capture_output=True, text=True,
                         cwd=os.path.dirname(VERIFY_JWT), timeout=30)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"error": "verify_jwt.mjs failed: " + out.stderr[-300:]}


def claims_refusal(payload):
    """GitHub's own rules beyond the signature: None when they hold."""
    iat, exp, t = payload.get("iat"), payload.get("exp"), now()
    if not isinstance(iat, int) or not isinstance(exp, int):
        return "iat and exp must be integers"
    if iat > t + 5:
        return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
    if exp - iat > 600 or exp > t + 600:
        return "'Expiration time' claim ('exp') is too far in the future"
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, message, reason):
        with lock:
            stats["refused"] += 1
            stats["reasons"].append(reason)
        self.answer(status, {"message": message, "documentation_url": "https://docs.github.com/rest"})

    def do_GET(self):
        url = urlsplit(self.path)
        if re.fullmatch(r"/apps/[A-Za-z0-9-]+/installations/new", url.path):
            state = parse_qs(url.query).get("state", [""])[0]
            with lock:
                setup, installation = config["setup_url"], (config["installations"] or [""])[0]
            params = {"installation_id": installation, "setup_action": "install", "state": state}
            with lock:
                if config["oauth"]:
                    code = f"code{len(codes) + 1}"
                    codes[code] = now_unlocked()
                    params["code"] = code
            query = urlencode(params)
            self.send_response(302)
            self.send_header("Location", f"{setup}?{query}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.answer(404, {"message": "Not Found"})

    def user_token(self, body):
        """The user authorization's token endpoint (github.com/login/oauth/access_token)."""
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, client_secret = unquote_plus(client_id), unquote_plus(client_secret)
        as_json = "application/json" in self.headers.get("Accept", "")

        def refuse(error, description):
            with lock:
                stats["user_refused"] += 1
                stats["user_reasons"].append(error)
            self.token_answer({"error": error, "error_description": description}, as_json)

        with lock:
            oauth = config["oauth"] or {}
            setup = config["setup_url"]
        if not oauth or client_id != oauth.get("client_id") or client_secret != oauth.get("client_secret"):
            return refuse("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
        if form.get("grant_type") == "refresh_token":
            with lock:
                known = form.get("refresh_token") in refresh_tokens
                refresh_tokens.discard(form.get("refresh_token"))
            if not known:
                return refuse("bad_refresh_token", "The refresh token passed is incorrect or expired.")
        else:
            with lock:
                issued = codes.pop(form.get("code", ""), None)
            if issued is None or now() - issued > CODE_LIFETIME:
                return refuse("bad_verification_code", "The code passed is incorrect or expired.")
            if "redirect_uri" in form and form["redirect_uri"] != setup:
                return refuse("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
        with lock:
            stats["user_issued"] += 1
            n = stats["user_issued"]
            refresh_tokens.add(f"ghr_peer{n}")
        self.token_answer({"access_token": f"ghu_peer{n}", "expires_in": USER_LIFETIME,
                           "refresh_token": f"ghr_peer{n}", "refresh_token_expires_in": 15897600,
                           "scope": "", "token_type": "bearer"}, as_json)

    def token_answer(self, body, as_json):
        if as_json:
            return self.answer(200, body)
        data = urlencode(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host", "").split(":")[0]
        if host == "github.com" and urlsplit(self.path).path == "/login/oauth/access_token":
            return self.user_token(body)
        match = re.fullmatch(r"/app/installations/([^/]+)/access_tokens", urlsplit(self.path).path)
        if not match or self.headers.get("Host", "").split(":")[0] != "api.github.com":
            return self.refuse(404, "Not Found", f"path {self.path}")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.refuse(401, "A JSON web token could not be decoded", "no bearer JWT")
        verdict = jose_verdict(auth[len("Bearer "):])
        if "error" in verdict:
            return self.refuse(401, "A JSON web token could not be decoded", "jose: " + verdict["error"])
        refusal = claims_refusal(verdict["payload"])
        if refusal:
            return self.refuse(401, refusal, "claims: " + refusal)
        if self.headers.get("Accept") != "application/vnd.github+json":
            return self.refuse(415, "Unsupported Media Type", "accept")
        with lock:
            known = match.group(1) in config["installations"]
        if not known:
            return self.refuse(404, "Not Found", f"installation {match.group(1)}")
        with lock:
            stats["issued"] += 1
            n = stats["issued"]
        expires = datetime.fromtimestamp(now() + LIFETIME, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.answer(201, {"token": f"ghs_peer{n}", "expires_at": expires,
                          "permissions": {"contents": "read", "metadata": "read"},
                          "repository_selection": "all"})


class Control(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.reply(dict(stats))

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with lock:
            if self.path == "/_config":
                for k in ("app_id", "public_key", "setup_url", "installations", "oauth"):
                    if k in body:
                        config[k] = body[k]
            elif self.path == "/_now":
                config["now"] = body["now"]
        self.reply({"ok": True})


def main():
    directory = tempfile.mkdtemp(prefix="github-app-peer-")
    ca, cert, key = make_certificates(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    for s in (server, control):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(ca) as f:
        ca_pem = f.read()
    print(json.dumps({"port": server.server_address[1], "control_port": control.server_address[1], "ca": ca_pem}),
          flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
