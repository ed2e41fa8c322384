"""A stand-in for GitHub's side of a GitHub App: the installation page and the installation
access token endpoint, as GitHub checks them.

Served over TLS on 127.0.0.1 with a certificate for github.com and api.github.com signed by a
test certificate authority made at start with the `openssl` command; the test trusts that CA
(`Config::extra_root_certificates`) and leads both names to this port, so the catalog's URLs are
used exactly as `github-app` writes them.

- `GET /apps/<slug>/installations/new?state=…` (github.com): the app is installed; the browser
  is sent to the app's Setup URL with `installation_id`, `setup_action=install` and `state`.
- `POST /app/installations/<id>/access_tokens` (api.github.com): the app JWT in
  `Authorization: Bearer` is verified by npm `jose` (`tests/peers/oidc/verify_jwt.mjs`, an
  implementation independent of Latchkey's signer) against the app's PUBLIC key, RS256 only,
  `iss` the app id, not expired at the test clock's time; then `iat` is not in the future and
  `exp` at most ten minutes after `iat` and after now, as GitHub requires; `Accept` is
  `application/vnd.github+json`; the installation is one of the app's. Only then a token
  `ghs_<n>` is issued with a one-hour `expires_at`. Refusals answer GitHub's JSON
  (`{"message", "documentation_url"}`) with 401 (the JWT) or 404 (the installation).

The plain control port takes `POST /_config` ({app_id, public_key, setup_url, installations})
and `POST /_now` ({now}: the test clock's unix time), and answers `GET /_stats` (issued,
refused, and every refusal's reason). Prints one JSON line when ready ({"port",
"control_port", "ca"}), and exits when its stdin closes.
"""

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
from urllib.parse import parse_qs, urlencode, urlsplit

HOSTS = ["github.com", "api.github.com"]
HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY_JWT = os.path.join(HERE, "..", "oidc", "verify_jwt.mjs")
LIFETIME = 3600

lock = threading.Lock()
config = {"app_id": None, "public_key": None, "setup_url": None, "installations": [], "now": None}
stats = {"issued": 0, "refused": 0, "reasons": []}


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


def now():
    with lock:
        return config["now"] if config["now"] is not None else int(time.time())


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
            query = urlencode({"installation_id": installation, "setup_action": "install", "state": state})
            self.send_response(302)
            self.send_header("Location", f"{setup}?{query}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.answer(404, {"message": "Not Found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
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
                for k in ("app_id", "public_key", "setup_url", "installations"):
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
