"""HTTP load and soak of `latchkey serve` (a release build) on a fresh data directory.

  python bench/load.py load <latchkey binary> [seconds]   wrk runs (default 30 s each): the warm
      read with Bearer, the warm read signed, the connect start (302); req/s, p50, p99, and the
      server's peak RSS (VmHWM) after each.
  python bench/load.py soak <latchkey binary> [seconds]   mixed traffic (default 600 s): warm
      reads (Bearer and signed), connect starts, API key connects verified by a misbehaving
      provider (slow, 5xx, answers larger than the 64 KiB cap, good), signed metadata writes
      (single-use signatures, one per request). RSS sampled every 5 s; every answer counted by
      kind and status; an answer that is not the one its kind expects (or the provider's
      refusal) fails the run.

`bench/run load|soak|smoke` builds the binary and calls this. A signed GET may be repeated
within the 300 s window (only non-GET signatures are single-use), so wrk sends one signature
computed at the start of the run: the server verifies the HMAC on every request all the same.
"""

import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def signature(secret, method, path_and_query, body=b"", ts=None):
    ts = int(time.time()) if ts is None else ts
    message = f"{ts}\n{method}\n{path_and_query}\n{hashlib.sha256(body).hexdigest()}"
    sig = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"Latchkey-Timestamp": str(ts), "Latchkey-Signature": f"v1={sig}"}


# ------------------------------------------------------------------ the misbehaving provider
class Provider:
    """`GET /v1/models` as an API-key provider's verification endpoint, misbehaving by turns:
    slow (2 s), 500, 503, an answer of 1 MiB (over the guarded client's 64 KiB cap), or fine."""

    def __init__(self):
        self.served = {"slow": 0, "5xx": 0, "huge": 0, "ok": 0}
        outer = self
        big = b'{"data":"' + b"x" * (1 << 20) + b'"}'

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                kind = random.choice(["slow", "5xx", "huge", "ok", "ok"])
                outer.served[kind] += 1
                status, body = 200, b'{"data":[]}'
                if kind == "slow":
                    time.sleep(2)
                elif kind == "5xx":
                    status, body = random.choice([500, 503]), b'{"error":"down"}'
                elif kind == "huge":
                    body = big
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # Latchkey stopped reading at its cap

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


# ------------------------------------------------------------------ the server under test
class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="latchkey-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        env = dict(os.environ, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir,
             "--allow-private-addresses"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        keys = subprocess.run([binary, "keys", "--data-dir", self.dir, "--env"], capture_output=True, text=True,
                              check=True).stdout
        found = dict(re.findall(r"export (LATCHKEY_\w+)='([^']*)'", keys))
        self.secret = found["LATCHKEY_SECRET_KEY"]
        self.public = found["LATCHKEY_PUBLIC_KEY"]

    def request(self, method, path, body=None, signed=False, conn=None):
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            headers.update(signature(self.secret, method, path, data))
        else:
            headers["Authorization"] = f"Bearer {self.secret}"
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=data or None, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        if own:
            conn.close()
        return r.status, payload

    def rss_kb(self):
        return proc_status(self.proc.pid, "VmRSS")

    def hwm_kb(self):
        return proc_status(self.proc.pid, "VmHWM")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def prepare(server, provider_url):
    """An OAuth2 integration with one imported connection (the read target), a connectable
    integration, and an API-key integration verified by `provider_url`."""
    ok = lambda r: r[0] < 300 or sys.exit(f"setup failed: {r}")
    ok(server.request("POST", "/integrations", {
        "provider": "custom-oauth2", "unique_key": "crm",
        "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret", "scopes": "read"},
        "custom": {"authorization_url": "https://id.example.com/authorize", "token_url": "https://id.example.com/token"},
    }))
    ok(server.request("POST", "/connections", {
        "provider_config_key": "crm", "connection_id": "user-1",
        "credentials": {"type": "OAUTH2", "access_token": "at-" + "a" * 40, "refresh_token": "rt-1",
                        "expires_at": "2099-01-01T00:00:00Z", "raw": {"scope": "read", "pad": "p" * 900}},
    }))
    ok(server.request("POST", "/integrations", {"provider": "openai", "unique_key": "oa",
                                                "custom": {"proxy_base_url": provider_url}}))


READ = "/connections/user-1?provider_config_key=crm"


def connect_path(server, cid):
    return f"/oauth/connect/crm?connection_id={cid}&public_key={server.public}"


# ------------------------------------------------------------------ load (wrk)
def wrk(url, seconds, headers, connections=32):
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0, errors.group(0) if errors else ""


def load(binary, seconds):
    server = Server(binary)
    try:
        prepare(server, "http://127.0.0.1:9")
        status, _ = server.request("GET", READ)
        assert status == 200, status
        idle = server.rss_kb()
        print(f"latchkey serve (pid {server.proc.pid}): RSS after start and setup {idle} KiB\n")
        print("| run | req/s | p50 ms | p99 ms | non-2xx/3xx | socket errors | VmHWM after (KiB) |")
        print("|---|---|---|---|---|---|---|")
        runs = [
            ("warm read, Bearer", READ, {"Authorization": f"Bearer {server.secret}"}),
            ("warm read, signed", READ, None),
            ("connect start (302)", connect_path(server, "load-1"), {}),
        ]
        for name, path, headers in runs:
            if headers is None:
                headers = signature(server.secret, "GET", path)
            rps, p50, p99, bad, errs = wrk(server.base + path, seconds, headers)
            print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {bad} | {errs or 'none'} | {server.hwm_kb()} |")
    finally:
        server.stop()


# ------------------------------------------------------------------ soak
def soak(binary, seconds):
    provider = Provider()
    server = Server(binary)
    counts, unexpected, lock = {}, [], threading.Lock()
    stop = time.time() + seconds

    def note(kind, status, expected, body):
        with lock:
            counts[(kind, status)] = counts.get((kind, status), 0) + 1
            if status not in expected and len(unexpected) < 20:
                unexpected.append((kind, status, body[:300]))

    def worker(kind):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        n = 0
        while time.time() < stop:
            n += 1
            try:
                if kind == "read-bearer":
                    s, b = server.request("GET", READ, conn=conn)
                    note(kind, s, {200}, b)
                elif kind == "read-signed":
                    s, b = server.request("GET", READ, signed=True, conn=conn)
                    note(kind, s, {200}, b)
                elif kind == "connect":
                    conn.request("GET", connect_path(server, f"soak-{n % 50}"))
                    r = conn.getresponse()
                    note(kind, r.status, {302}, r.read())
                elif kind == "api-key":
                    # A new end user each time: the public key alone creates connections and
                    # never replaces one (409 connection_exists).
                    path = f"/api-auth/api-key/oa?connection_id=key-{os.urandom(8).hex()}&public_key={server.public}"
                    body = json.dumps({"apiKey": "good-key"}).encode()
                    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    b = r.read()
                    # 200: the provider accepted; otherwise only the provider's own failure is fine.
                    provider_fault = r.status in (400, 502, 503, 504) and re.search(
                        rb'"code":"(connection_test_failed|provider_\w+|upstream_\w+)"', b)
                    note(kind, r.status, {200} | ({r.status} if provider_fault else set()), b)
                elif kind == "metadata":
                    s, b = server.request("POST", "/connections/metadata",
                                          {"connection_id": "user-1", "provider_config_key": "crm",
                                           "metadata": {"n": n, "at": time.time()}}, signed=True, conn=conn)
                    note(kind, s, {200, 201, 204}, b)
            except (OSError, http.client.HTTPException) as e:
                note(kind, f"client error {type(e).__name__}", set(), str(e).encode())
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    try:
        prepare(server, provider.url)
        kinds = ["read-bearer", "read-signed", "connect", "api-key", "api-key", "metadata"]
        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in kinds]
        start = time.time()
        for t in threads:
            t.start()
        samples = []
        while time.time() < stop:
            samples.append((round(time.time() - start), server.rss_kb()))
            time.sleep(5)
        for t in threads:
            t.join(60)
        samples.append((round(time.time() - start), server.rss_kb()))
        print(f"soak of {seconds} s, provider answers: {provider.served}\n")
        print("| kind | status | count |")
        print("|---|---|---|")
        for (kind, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            print(f"| {kind} | {status} | {n} |")
        print("\nRSS (KiB) by elapsed seconds, every 60 s (and the first and last samples):\n")
        print("| s | RSS KiB |")
        print("|---|---|")
        shown = [s for i, s in enumerate(samples) if i == 0 or i == len(samples) - 1 or s[0] % 60 < 5]
        for t, kb in shown:
            print(f"| {t} | {kb} |")
        rss = [kb for _, kb in samples]
        half = rss[len(rss) // 2:]
        print(f"\nVmHWM {server.hwm_kb()} KiB; RSS min {min(rss)}, max {max(rss)}, "
              f"second half min {min(half)}, max {max(half)}")
        if unexpected:
            print("\nUNEXPECTED answers:")
            for u in unexpected:
                print(" ", u)
            sys.exit(1)
    finally:
        server.stop()


if __name__ == "__main__":
    mode, binary = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else (30 if mode == "load" else 600)
    {"load": load, "soak": soak}[mode](binary, seconds)
