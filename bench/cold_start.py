"""Cold start of each Lambda function binary: from process start to ready, under a local Lambda
Runtime API emulator, beside the bare `callback-redirect` (a plain `lambda_http` function that
reads one variable) started the same way in the same run. Ready = the function's first
`GET /2018-06-01/runtime/invocation/next`: its init is over (on AWS, the end of the init phase).

The Latchkey functions start with the AWS backend against the moto server of
`AWS_ENDPOINT_URL` (`bench/run` starts one), so their init includes the SDK configuration and
the one Secrets Manager call (`aws_calls init`, read from each start's log). Runs are
interleaved (one start of each function per round) so machine noise hits all alike.

Usage: python bench/cold_start.py <dir with the binaries> [rounds]   (default 30; 3 = smoke)
Prints a Markdown table: median and p90 ms to ready, the ratio of medians to callback-redirect,
the function's own start-up work (ready minus the round trip of its one Secrets Manager call,
logged as `environment keys read`) and how much that exceeds the bare function, peak RSS at
ready (VmHWM) and the AWS calls of the init.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

BARE = "callback-redirect"
FUNCTIONS = ["auth-start", "oauth-callback", "connections", "admin", "worker", BARE]


class FirstNext:
    """A Runtime API that notes when the first `/next` arrives and never hands out an event."""

    def __init__(self):
        self.ready_at = None
        self.ready = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next") and outer.ready_at is None:
                    outer.ready_at = time.perf_counter()
                    outer.ready.set()
                # Hold the long poll until the process is stopped.
                outer.ready.wait()
                time.sleep(5)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def init_log(log_path):
    """(AWS calls at init, ms of the Secrets Manager round trip) from a start's log lines."""
    calls, keys_ms = None, 0.0
    with open(log_path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "aws_calls init":
                calls = (entry["dynamodb"], entry["kms"], entry["secretsmanager"])
            elif entry.get("message") == "environment keys read":
                keys_ms = entry["secretsmanager_ms"]
    return calls, keys_ms


def start_once(bin_dir, name, env, log_dir):
    runtime = FirstNext()
    full = dict(os.environ)
    full.update(env)
    full.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "RUST_LOG": "info",
        }
    )
    log_path = os.path.join(log_dir, f"{name}-{uuid.uuid4().hex[:6]}.log")
    with open(log_path, "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([os.path.join(bin_dir, name)], env=full, stdout=log, stderr=subprocess.STDOUT)
        if not runtime.ready.wait(30):
            proc.kill()
            raise SystemExit(f"{name} never asked for an event; log: {open(log_path).read()[:2000]}")
        ms = (runtime.ready_at - started) * 1000
        rss = vm_hwm_kb(proc.pid)
        proc.kill()
        proc.wait()
    runtime.server.shutdown()
    calls, keys_ms = init_log(log_path)
    os.unlink(log_path)
    return ms, rss, calls, keys_ms


def setup_aws():
    suffix = uuid.uuid4().hex[:10]
    secret_id = f"latchkey-bench/{suffix}"
    seed = uuid.uuid4().hex + uuid.uuid4().hex
    boto3.client("secretsmanager").create_secret(Name=secret_id, SecretString=json.dumps({"seed": seed}))
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    public_url = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    return {
        "LATCHKEY_BACKEND": "aws",
        "LATCHKEY_ENVIRONMENT": "prod",
        "LATCHKEY_TABLE": f"latchkey-bench-{suffix}",
        "LATCHKEY_KMS_KEY_ID": key_id,
        "LATCHKEY_KEYS_SECRET_ID": secret_id,
        "LATCHKEY_PUBLIC_URL": public_url,
        "LATCHKEY_CALLBACK_TARGET": f"{public_url}/oauth/callback",
    }


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    bin_dir = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    env = setup_aws()
    times = {f: [] for f in FUNCTIONS}
    own = {f: [] for f in FUNCTIONS}
    rss = {f: [] for f in FUNCTIONS}
    calls = {}
    with tempfile.TemporaryDirectory() as log_dir:
        for f in FUNCTIONS:  # one unmeasured start each: page cache and moto warmed alike
            start_once(bin_dir, f, env, log_dir)
        for _ in range(rounds):
            for f in FUNCTIONS:
                ms, kb, c, keys_ms = start_once(bin_dir, f, env, log_dir)
                times[f].append(ms)
                own[f].append(ms - keys_ms)
                rss[f].append(kb)
                calls[f] = c
    bare = statistics.median(times[BARE])
    print(f"{rounds} starts per function, binaries from {bin_dir}\n")
    print("| function | median ms to ready | p90 ms | ratio to callback-redirect (medians) | median ms without the Secrets Manager round trip | over callback-redirect, ms | VmHWM at ready (KiB) | AWS calls at init (DynamoDB, KMS, Secrets Manager) |")
    print("|---|---|---|---|---|---|---|---|")
    for f in FUNCTIONS:
        median = statistics.median(times[f])
        c = calls.get(f)
        mine = statistics.median(own[f])
        print(
            f"| {f} | {median:.2f} | {percentile(times[f], 90):.2f} | {median / bare:.2f} | {mine:.2f} | "
            f"{mine - bare:+.2f} | {statistics.median(rss[f]):.0f} | {', '.join(map(str, c)) if c else 'none (no AWS client)'} |"
        )
    for f in FUNCTIONS:
        if f != BARE and calls.get(f) != (0, 0, 1):
            raise SystemExit(f"{f}: expected exactly one Secrets Manager call at init, got {calls.get(f)}")


if __name__ == "__main__":
    main()
