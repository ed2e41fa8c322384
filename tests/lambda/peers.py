"""The runtime test's peers: a tiny OAuth2 provider, and a team's https webhook receiver (with the
test CA its certificate comes from) that checks both signatures with Python's hmac."""

import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import ssl
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer



# ------------------------------------------------------------------ a tiny OAuth2 provider
class Provider:
    """Answers the code grant (`the-code`) and refresh grants: each refresh token once, rotated,
    with an access token of `lifetime` seconds; `refuse` answers `invalid_grant` to refreshes.
    Counts the refresh grants."""

    def __init__(self):
        provider = self
        self.refreshes = 0
        self.refuse = False
        self.lifetime = 600
        self.live = {"rt-1"}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if form.get("grant_type") == ["refresh_token"]:
                    provider.refreshes += 1
                    old = (form.get("refresh_token") or [""])[0]
                    ok = old in provider.live and not provider.refuse
                    if ok:
                        provider.live.discard(old)
                        n = provider.refreshes + 1
                        provider.live.add(f"rt-{n}")
                        answer = {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": provider.lifetime}
                else:
                    ok = form.get("code") == ["the-code"]
                    answer = {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "bearer"}
                body = json.dumps(answer if ok else {"error": "invalid_grant"}).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


# ------------------------------------------------------------------ a team's webhook receiver (https)
def test_ca(directory):
    """A certificate authority and a server certificate for 127.0.0.1 it signed, as PEM files:
    (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Latchkey runtime test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(server.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class Receiver:
    """An https webhook receiver: keeps (headers, raw body) of each POST, answers the statuses
    of `script` in turn (then 200)."""

    def __init__(self, cert, key):
        self.got = []
        self.script = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/hook"


def signatures_hold(signing_key, headers, body):
    """A receiver's checks: X-Nango-Hmac-Sha256 over the raw body, and Latchkey-Signature over
    timestamp, webhook id and body within 300 s."""
    key = signing_key.encode()
    nango = hmac.new(key, body, hashlib.sha256).hexdigest()
    ts = headers.get("latchkey-timestamp", "")
    message = f"{ts}\n{headers.get('latchkey-webhook-id', '')}\n".encode() + body
    latchkey = "v1=" + hmac.new(key, message, hashlib.sha256).hexdigest()
    fresh = ts.isdigit() and abs(time.time() - int(ts)) <= 300
    return (
        hmac.compare_digest(headers.get("x-nango-hmac-sha256", ""), nango)
        and hmac.compare_digest(headers.get("latchkey-signature", ""), latchkey)
        and fresh
    )
