"""Bill's login and Emarsys' WSSE check, as those providers check them.

Served over TLS on 127.0.0.1 with a certificate for the providers' host names signed by a test
CA (`make_certificates` of server.py, the two-step peer). Python's standard library only.

- Bill (`bill`, `bill-sandbox`): `POST /connect/v3/login` on gateway.stage.bill.com or
  gateway.prod.bill.com takes a JSON body (application/json) with exactly `username`,
  `password`, `organizationId` and `devKey`, and answers a new session
  `{"sessionId": "bill-<n>", "organizationId", "userId"}`; anything else gets Bill's 400 error
  list. `GET /connect/v3/vendors` answers 200 only with the headers `sessionId` (a session it
  opened) and `devKey` (the developer key that opened it).
- Emarsys (`emarsys`): `GET /api/v2/settings` on api.emarsys.net answers 200 only with an
  `X-WSSE` UsernameToken whose PasswordDigest, recomputed here with `hashlib`
  (base64 of the hex SHA-1 of nonce + created + secret), is the user's, whose `Created` is
  within five minutes of now, and whose nonce was never used before.

`GET /_stats` on the plain control port answers how many sessions Bill opened (`bill`), how
many WSSE values Emarsys accepted (`emarsys`) and how many requests were refused (`refused`).
Prints one JSON line when ready ({"port", "control_port", "ca"}), and exits when stdin closes.
"""

import base64
import hashlib
import json
import re
import ssl
import sys
import tempfile
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

import server
from server import make_certificates

HOSTS = ["gateway.stage.bill.com", "gateway.prod.bill.com", "api.emarsys.net"]
BILL = {"username": "ann@example.com", "password": "bill pw", "organizationId": "00801ABCDEFGHIJ",
        "devKey": "dev-key-1"}
EMARSYS = {"username": "acme001", "secret": "emarsys-secret-1"}
WINDOW_SECONDS = 300

lock = server.lock
stats = server.stats
stats.update({"bill": 0, "emarsys": 0})
sessions = {}
nonces = set()

TOKEN = re.compile(r'^UsernameToken Username="([^"]*)", PasswordDigest="([^"]*)", Nonce="([^"]*)", Created="([^"]*)"$')


def wsse_ok(value):
    match = TOKEN.match(value or "")
    if not match:
        return False
    username, digest, nonce, created = match.groups()
    expected = base64.b64encode(hashlib.sha1((nonce + created + EMARSYS["secret"]).encode()).hexdigest().encode())
    try:
        at = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    fresh = abs((datetime.now(timezone.utc) - at).total_seconds()) <= WINDOW_SECONDS
    with lock:
        reused = nonce in nonces
        nonces.add(nonce)
    return username == EMARSYS["username"] and digest == expected.decode() and fresh and not reused


class Handler(server.Handler):
    def do_GET(self):
        url = urlsplit(self.path)
        if self.server.control:
            return self.answer(200, stats) if url.path == "/_stats" else self.refuse(404, "not_found")
        route = (self.host(), url.path)
        if route == ("api.emarsys.net", "/api/v2/settings"):
            if not wsse_ok(self.headers.get("x-wsse")):
                return self.refuse(401, "Unauthorized")
            with lock:
                stats["emarsys"] += 1
            return self.answer(200, {"replyCode": 0, "replyText": "OK", "data": {"id": 1}})
        if route[1] == "/connect/v3/vendors" and route[0] in HOSTS[:2]:
            with lock:
                key = sessions.get(self.headers.get("sessionId") or "")
            if key is None or key != self.headers.get("devKey"):
                return self.refuse(401, "invalid session")
            return self.answer(200, {"results": []})
        self.refuse(404, "not_found")

    def do_POST(self):
        url = urlsplit(self.path)
        kind = (self.headers.get("content-type") or "").split(";")[0].strip()
        raw = self.body()
        if self.server.control:
            return self.refuse(404, "not_found")
        if (url.path == "/connect/v3/login" and self.host() in HOSTS[:2]):
            if server.json_body(kind, raw) != BILL:
                return self.refuse(400, [{"code": "BDC_1109", "message": "Invalid username or password"}])
            with lock:
                stats["bill"] += 1
                session = f"bill-{stats['bill']}"
                sessions[session] = BILL["devKey"]
            return self.answer(200, {"sessionId": session, "organizationId": BILL["organizationId"],
                                     "userId": "006UAAAAAAAAAAA"})
        self.refuse(404, "not_found")


def main():
    directory = tempfile.mkdtemp(prefix="sessions-peer-")
    ca, cert, key = make_certificates(directory, HOSTS)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    tls.control = False
    control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    control.control = True
    server.serve(tls)
    server.serve(control)
    with open(ca) as f:
        ca_pem = f.read()
    print(json.dumps({"port": tls.server_address[1], "control_port": control.server_address[1], "ca": ca_pem}),
          flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
