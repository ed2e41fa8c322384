"""ADP's token endpoint as it checks mutual TLS: a client-credentials token only for a client
that presents a certificate signed by the CA ADP issued it, over a TLS handshake Python's `ssl`
(OpenSSL) verifies.

Served over TLS on 127.0.0.1 with a certificate for accounts.adp.com signed by a test CA
(`make_certificates` of server.py, the two-step peer). The same CA signs the client certificate
the test's connection presents (CN `acme-adp-client`); a certificate of another CA fails the
handshake. `POST /auth/oauth/v2/token` takes a form body with grant_type=client_credentials,
client_id and client_secret, and answers `{"access_token": "adp-<n>", "expires_in": 3600}` when
the verified peer certificate is that client's. `GET /_stats` on the plain control port answers
{"issued", "refused"}. Prints one JSON line when ready ({"port", "control_port", "ca",
"client_certificate", "client_private_key", "stranger_certificate", "stranger_private_key"}),
and exits when its stdin closes.
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import server
from server import make_certificates

HOSTS = ["accounts.adp.com"]
CLIENT = {"grant_type": "client_credentials", "client_id": "adp-client", "client_secret": "adp secret"}
CLIENT_CN = "acme-adp-client"

lock = server.lock
stats = server.stats
stats.update({"issued": 0})


def openssl(directory, *args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)


def client_certificate(directory, name, signed_by_ca):
    """A client certificate and key (PEM texts): signed by the test CA, or self-signed."""
    key, cert = f"{name}-key.pem", f"{name}-cert.pem"
    if signed_by_ca:
        openssl(directory, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", f"{name}.csr", "-subj", f"/CN={CLIENT_CN}")
        with open(os.path.join(directory, f"{name}.cnf"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
        openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", f"{name}.cnf")
    else:
        openssl(directory, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={CLIENT_CN}")
    with open(os.path.join(directory, cert)) as c, open(os.path.join(directory, key)) as k:
        return c.read(), k.read()


class Handler(server.Handler):
    """server.py's answers and refusals (its `stats` counts this peer's refusals too)."""

    def peer_cn(self):
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def do_GET(self):
        if self.server.control and urlsplit(self.path).path == "/_stats":
            return self.answer(200, stats)
        self.refuse(404, "not_found")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        host = (self.headers.get("host") or "").split(":")[0]
        if self.server.control or (host, urlsplit(self.path).path) != ("accounts.adp.com", "/auth/oauth/v2/token"):
            return self.refuse(404, "not_found")
        # The handshake already required a certificate of the CA; this is the client's own.
        if self.peer_cn() != CLIENT_CN:
            return self.refuse(401, "unknown client certificate")
        form = parse_qs(raw.decode(), keep_blank_values=True)
        if {k: v for k, v in form.items()} != {k: [v] for k, v in CLIENT.items()}:
            return self.refuse(401, "invalid_client")
        with lock:
            stats["issued"] += 1
            n = stats["issued"]
        self.answer(200, {"access_token": f"adp-{n}", "token_type": "Bearer", "expires_in": 3600})


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    directory = tempfile.mkdtemp(prefix="mtls-peer-")
    ca, cert, key = make_certificates(directory, HOSTS)
    client_cert, client_key = client_certificate(directory, "client", signed_by_ca=True)
    stranger_cert, stranger_key = client_certificate(directory, "stranger", signed_by_ca=False)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(ca)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    tls.control = False
    control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    control.control = True
    serve(tls)
    serve(control)
    with open(ca) as f:
        ca_pem = f.read()
    print(json.dumps({
        "port": tls.server_address[1], "control_port": control.server_address[1], "ca": ca_pem,
        "client_certificate": client_cert, "client_private_key": client_key,
        "stranger_certificate": stranger_cert, "stranger_private_key": stranger_key,
    }), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
