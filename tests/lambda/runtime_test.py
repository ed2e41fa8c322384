"""Runs the built Lambda binaries under a local Lambda Runtime API and sends them API Gateway
HTTP API (v2) events shaped like real traffic: a named stage, percent-encoded brackets in the
query, base64 bodies, cookies, comma-joined multi-value headers. The AWS backend is a moto
server (AWS_ENDPOINT_URL) with the table and the jobs queue as template.yaml declares them; a
tiny OAuth2 provider answers the token and refresh requests; the refresh scheduler gets
EventBridge scheduled events. The worker gets SQS events built from the
messages the other functions sent, and must report exactly the failed ones; the webhook
deliveries among them reach an https receiver (its certificate from a test CA the functions
trust through LATCHKEY_EXTRA_CA_FILE), which checks both signatures with Python's hmac.

The WebSocket API's function gets API Gateway WebSocket events ($connect, $default,
$disconnect); its greeting is an asynchronous invocation of itself, which a small emulation of
Lambda's Invoke API (AWS_ENDPOINT_URL_LAMBDA) queues for the same binary. What the functions
post to sockets goes to moto's apigatewaymanagementapi (PostToConnection) and is read back
from moto's request recorder.

It also counts the AWS calls per operation from the binaries' `aws_calls` log lines and writes
them as JSON to the file named by LATCHKEY_CALLS_OUT.

Usage: python runtime_test.py <dir with the function binaries>
Prints 'N passed, N failed'; exits non-zero on any failure.
"""

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import yaml

from emulator import Function, InvokeApi

BIN_DIR = sys.argv[1]
STAGE = "prod"
RESULTS = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")


def ws_event(event_type, route_key, connection_id, headers=None, body=None):
    """An API Gateway WebSocket event as the WebSocket API sends it to a Lambda proxy."""
    ctx = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": str(uuid.uuid4()),
        "requestTime": "26/Nov/2026:23:00:00 +0000",
        "messageDirection": "IN",
        "stage": "live",
        "connectedAt": int(time.time() * 1000),
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "runtime-test"},
        "requestId": str(uuid.uuid4()),
        "domainName": "ws123.execute-api.us-east-1.amazonaws.com",
        "connectionId": connection_id,
        "apiId": "ws123",
    }
    event = {"requestContext": ctx, "isBase64Encoded": False}
    if headers is not None:
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    if body is not None:
        event["body"] = body
    return event


def posted(connection_id, timeout=10):
    """The frames posted to a connection through moto's PostToConnection, from its recorder."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    deadline = time.time() + timeout
    while True:
        with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording") as r:
            lines = r.read().decode().splitlines()
        frames = []
        for line in lines:
            entry = json.loads(line)
            if entry["method"] == "POST" and entry["url"].endswith(f"/@connections/{connection_id}"):
                body = entry["body"]
                frames.append(json.loads(base64.b64decode(body) if entry.get("body_encoded") else body))
        if frames or time.time() > deadline:
            return frames
        time.sleep(0.05)


def wait_for_log(fn, count, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(fn.calls()[1]) >= count:
            return
        time.sleep(0.05)


# ------------------------------------------------------------------ events
def v2_event(method, path, query="", headers=None, cookies=None, body=None, stage=STAGE):
    """An API Gateway HTTP API payload v2 event as API Gateway sends it: rawPath carries the stage,
    rawQueryString is exactly what the client sent, multi-value headers are comma-joined."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    headers.setdefault("host", "abc123.execute-api.us-east-1.amazonaws.com")
    headers.setdefault("user-agent", "runtime-test")
    raw_path = f"/{stage}{path}" if stage != "$default" else path
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": headers["host"],
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": headers["user-agent"],
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": stage,
            "time": "26/Nov/2026:23:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        params = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    if cookies:
        event["cookies"] = cookies
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


def derive(seed, prefix, label):
    mac = hmac.new(seed.encode(), label.encode(), hashlib.sha256).digest()
    return prefix + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def sign(secret, method, path_and_query, body=b""):
    ts = int(time.time())
    message = f"{ts}\n{method}\n{path_and_query}\n{hashlib.sha256(body).hexdigest()}"
    sig = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"latchkey-timestamp": str(ts), "latchkey-signature": f"v1={sig}"}


def header(resp, name):
    for k, v in (resp.get("headers") or {}).items():
        if k.lower() == name:
            return v
    return None


def body_of(resp):
    raw = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return raw


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


# ------------------------------------------------------------------ the worker
def sqs_event(messages, queue_arn="arn:aws:sqs:us-east-1:123456789012:latchkey-jobs"):
    """Lambda's SQS event for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def purge_through_worker(admin, conns, worker, secret_key, table, queue_url):
    """DELETE the integration, check its connection is gone at once, then feed the jobs queue's
    messages to the worker (as the event source mapping would) until none is visible; a message
    that is not a job, in the first batch, must be the only one reported failed."""
    sqs = boto3.client("sqs")
    ddb = boto3.client("dynamodb")
    auth = {"authorization": f"Bearer {secret_key}"}
    r = admin.invoke(v2_event("DELETE", "/integrations/acme-crm", headers=auth))
    check("admin: DELETE /integrations/acme-crm", r["statusCode"] == 200, body_of(r))
    r = conns.invoke(v2_event("GET", "/connections/user-1", query="provider_config_key=acme-crm", headers=auth))
    check(
        "connections: the deleted integration's connection is not found at once",
        r["statusCode"] == 404 and json.loads(body_of(r))["error"]["code"] == "not_found",
        body_of(r),
    )
    key = {"PK": {"S": "CONN#acme-crm#user-1"}, "SK": {"S": "CONN"}}
    check("the connection item is still in the table", "Item" in ddb.get_item(TableName=table, Key=key))
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"kind": "not-a-job"}')
    first_batch = len(worker.calls()[1])
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the malformed message is the one failure reported", failures == ['{"kind": "not-a-job"}'], str(failures))
    check("worker: the purge deleted the connection item", "Item" not in ddb.get_item(TableName=table, Key=key))
    wait_for_log(worker, first_batch + batches)
    init, per_batch = worker.calls()
    per_batch = per_batch[first_batch:]
    return {
        f"worker: purge of 2 connections ({batches} batches: fan-out, shard steps, a bad message)": [
            sum(c[i] for c in per_batch) for i in range(3)
        ]
        if per_batch
        else None,
    }


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


def drain_to_worker(worker, queue_url):
    """Feeds what is visible on the queue to the worker until a receive is empty: the failed
    messages' bodies and the number of batches."""
    sqs = boto3.client("sqs")
    batches, failures = 0, []
    for _ in range(50):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        batches += 1
        response = worker.invoke(sqs_event(got))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        failures.extend(m["Body"] for m in got if m["MessageId"] in failed)
        for m in got:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=3600)
    return failures, batches


def webhooks_through_worker(admin, conns, worker, receiver, secret_key, signing_key, queue_url):
    """The callbacks' creation webhooks (user-1's and the socket flow's user-ws), delivered by the
    worker; an import's, refused once (503) and re-enqueued for later; the admin's test webhook
    sent at once."""
    auth = {"authorization": f"Bearer {secret_key}"}
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the webhook delivery jobs succeeded", failures == [] and batches == 1, f"{failures} {batches}")
    check("worker: the receiver got both webhooks over https", len(receiver.got) == 2, str(receiver.got))
    first = [(h, b) for h, b in receiver.got if json.loads(b).get("connectionId") == "user-1"]
    if first:
        headers, body = first[0]
        check("worker: both signatures hold (Python's hmac)", signatures_hold(signing_key, headers, body), str(headers))
        got = json.loads(body)
        check(
            "worker: the callback's creation webhook, as Nango sends it",
            {k: got.get(k) for k in ("from", "type", "operation", "connectionId", "providerConfigKey", "environment", "success")}
            == {"from": "nango", "type": "auth", "operation": "creation", "connectionId": "user-1",
                "providerConfigKey": "acme-crm", "environment": "prod", "success": True},
            body.decode(),
        )
    wait_for_log(worker, batches)
    delivery_calls = worker.calls()[1][-1] if worker.calls()[1] else None

    receiver.script = [503]
    imported = json.dumps(
        {"provider_config_key": "acme-crm", "connection_id": "user-2", "credentials": {"type": "OAUTH2", "access_token": "x"}}
    ).encode()
    r = conns.invoke(v2_event("POST", "/connections", headers={**auth, "content-type": "application/json"}, body=imported))
    check("connections: an import", r["statusCode"] == 200, body_of(r))
    failures, more = drain_to_worker(worker, queue_url)
    wait_for_log(worker, batches + more)
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    delayed = int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])
    check(
        "worker: a 503 is not a job failure; the next attempt waits on the queue",
        failures == [] and len(receiver.got) == 3 and delayed == 1,
        f"{failures} {len(receiver.got)} delayed={delayed}",
    )
    r = admin.invoke(v2_event("GET", "/logs", query="connection_id=user-2", headers=auth))
    events = [(e["operation"], e["event"]) for e in json.loads(body_of(r)).get("data", [])]
    check("admin: the attempt is in activity", ("webhook", "attempt_failed") in events, str(events))

    r = admin.invoke(v2_event("POST", "/environment/test-webhook", headers=auth))
    check(
        "admin: a test webhook, sent at once",
        r["statusCode"] == 200 and json.loads(body_of(r))["data"]["delivered"] is True and len(receiver.got) == 4,
        body_of(r),
    )
    return {"worker: 2 webhook deliveries in one batch (settings, connection, activity each; no KMS)": delivery_calls}


# ------------------------------------------------------------------ refreshes
def scheduled_event():
    """EventBridge's event for a schedule rule, as Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/latchkey-refresh"],
        "detail": {},
    }


def refreshes_through_scheduler(conns, scheduler, worker, provider, receiver, secret_key, signing_key, queue_url):
    """A forced read refreshes at the provider (a 2-second token, so the refresh index has it due
    a second later: the functions run on real time); a plain read makes it hot; the scheduler
    (invoked until the second has passed) enqueues it and the worker renews it from SQS. Then a
    refused forced read answers 424 and its refresh_failed webhook reaches the receiver; the next
    forced read succeeds and sends refresh_recovered. AWS calls of each."""
    auth = {"authorization": f"Bearer {secret_key}"}
    read = lambda query="": conns.invoke(
        v2_event("GET", "/connections/user-1", query=f"provider_config_key=acme-crm{query}", headers=auth)
    )
    token_of = lambda r: json.loads(body_of(r)).get("credentials", {}).get("access_token") if r["statusCode"] == 200 else None
    provider.lifetime = 2
    before = len(conns.calls()[1])
    r = read("&force_refresh=true")
    check("connections: force_refresh refreshes at the provider", token_of(r) == "at-2" and provider.refreshes == 1, body_of(r)[:300])
    wait_for_log(conns, before + 1)
    on_read = conns.calls()[1][before]
    read()  # a read: the connection is hot, renewed ahead of its reads

    runs, report = 0, {}
    deadline = time.time() + 15
    while time.time() < deadline:
        runs += 1
        report = scheduler.invoke(scheduled_event())
        if report.get("enqueued"):
            break
        time.sleep(0.2)
    check("refresh-scheduler: the due connection enqueued once", report.get("due") == 1 and report.get("enqueued") == 1, str(report))
    wait_for_log(scheduler, runs)
    s_init, s_calls = scheduler.calls()
    check(
        "refresh-scheduler: opens no credential (no KMS, no key read)",
        s_init in (None, (0, 0, 0)) and all(c[1:] == (0, 0) for c in s_calls),
        f"{s_init} {s_calls}",
    )
    provider.lifetime = 3600
    worker_before = len(worker.calls()[1])
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the refresh job renewed the connection", failures == [] and batches == 1 and provider.refreshes == 2, f"{failures} {batches} {provider.refreshes}")
    wait_for_log(worker, worker_before + batches)
    by_worker = worker.calls()[1][-1]
    r = read()
    check("connections: the worker's token is the one read", token_of(r) == "at-3", body_of(r)[:300])

    # Refused: a forced read answers 424 and the refusal is announced.
    provider.refuse = True
    seen = len(receiver.got)
    r = read("&force_refresh=true")
    check(
        "connections: a refused refresh answers 424 connection_refresh_backoff",
        r["statusCode"] == 424 and json.loads(body_of(r))["error"]["code"] == "connection_refresh_backoff",
        body_of(r),
    )
    failures, _ = drain_to_worker(worker, queue_url)
    hooks = [json.loads(b) for _, b in receiver.got[seen:]]
    check(
        "worker: the refresh_failed webhook, signed",
        failures == []
        and [(h["operation"], h["success"], h.get("error", {}).get("type")) for h in hooks] == [("refresh", False, "connection_refresh_backoff")]
        and all(signatures_hold(signing_key, h, b) for h, b in receiver.got[seen:]),
        f"{failures} {hooks}",
    )
    provider.refuse = False
    r = read("&force_refresh=true")
    check("connections: a forced read after the refusal succeeds", token_of(r) == "at-5", body_of(r)[:300])
    drain_to_worker(worker, queue_url)
    hooks = [json.loads(b) for _, b in receiver.got[seen + 1:]]
    check(
        "worker: the refresh_recovered webhook",
        [(h["operation"], h["success"]) for h in hooks] == [("refresh", True)],
        str(hooks),
    )
    return {
        "refresh on read (GET /connections/{id}?force_refresh=true)": on_read,
        "refresh scheduler run (1 due connection; +1 SQS send)": s_calls[runs - 1] if len(s_calls) >= runs else None,
        "worker: one scheduled refresh": by_worker,
    }


# ------------------------------------------------------------------ the test
OUT_DIR = os.environ.get("LATCHKEY_TEST_OUTPUT", "/tmp")
os.makedirs(OUT_DIR, exist_ok=True)


def template_table():
    """The table's keys and indexes as template.yaml declares them (CloudFormation tags read as
    plain values: the table's definition has none)."""

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    Loader.add_multi_constructor("!", any_tag)
    root = os.path.join(os.path.dirname(__file__), "..", "..", "template.yaml")
    props = yaml.load(open(root), Loader=Loader)["Resources"]["Table"]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}


def setup_aws():
    suffix = uuid.uuid4().hex[:10]
    ddb = boto3.client("dynamodb")
    table = f"latchkey-lambda-{suffix}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **template_table())
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"AttributeName": "expires_ttl", "Enabled": True}
    )
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    seed = uuid.uuid4().hex + uuid.uuid4().hex
    secret_id = f"latchkey/{suffix}"
    boto3.client("secretsmanager").create_secret(Name=secret_id, SecretString=json.dumps({"seed": seed}))
    queue_url = boto3.client("sqs").create_queue(QueueName=f"latchkey-jobs-{suffix}")["QueueUrl"]
    return table, key_id, secret_id, seed, queue_url


def main():
    table, key_id, secret_id, seed, queue_url = setup_aws()
    secret_key = derive(seed, "lk_sk_", "latchkey secret key")
    public_key = derive(seed, "lk_pk_", "latchkey public key")
    signing_key = derive(seed, "lk_wk_", "latchkey webhook signing key")
    ca_file, cert_file, key_file = test_ca(tempfile.mkdtemp())
    receiver = Receiver(cert_file, key_file)
    public_url = f"https://abc123.execute-api.us-east-1.amazonaws.com/{STAGE}"
    env = {
        "LATCHKEY_BACKEND": "aws",
        "LATCHKEY_ENVIRONMENT": "prod",
        "LATCHKEY_TABLE": table,
        "LATCHKEY_KMS_KEY_ID": key_id,
        "LATCHKEY_KEYS_SECRET_ID": secret_id,
        "LATCHKEY_QUEUE_URL": queue_url,
        "LATCHKEY_PUBLIC_URL": public_url,
        "LATCHKEY_CALLBACK_TARGET": f"{public_url}/oauth/callback",
        "LATCHKEY_EXTRA_CA_FILE": ca_file,
        # The WebSocket stage's management endpoint: moto serves PostToConnection at its root.
        "LATCHKEY_WEBSOCKET_ENDPOINT": os.environ["AWS_ENDPOINT_URL"],
    }
    provider = Provider()
    calls = {}
    fns = []
    try:
        admin = Function("admin", env, BIN_DIR, OUT_DIR)
        fns.append(admin)
        # base64 body, Bearer, stage prefix
        create = json.dumps(
            {
                "provider": "custom-oauth2",
                "unique_key": "acme-crm",
                "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret", "scopes": "read"},
                "custom": {
                    "authorization_url": "https://id.example.com/authorize",
                    "token_url": f"{provider.url}/token",
                },
            }
        ).encode()
        r = admin.invoke(
            v2_event(
                "POST",
                "/integrations",
                headers={"authorization": f"Bearer {secret_key}", "content-type": "application/json"},
                body=create,
            )
        )
        check("admin: POST /prod/integrations with a base64 body", r["statusCode"] == 200, body_of(r))

        # Signed request: the signature covers the path the client sent, stage included.
        path = f"/{STAGE}/integrations/acme-crm"
        r = admin.invoke(v2_event("GET", "/integrations/acme-crm", headers=sign(secret_key, "GET", path)))
        check("admin: signature over the stage-prefixed path verifies", r["statusCode"] == 200, body_of(r))
        r = admin.invoke(
            v2_event("GET", "/integrations/acme-crm", headers=sign(secret_key, "GET", "/integrations/acme-crm"))
        )
        check("admin: signature over the stripped path does not", r["statusCode"] == 401, body_of(r))
        # Cookies and multi-value headers do not disturb routing or auth.
        r = admin.invoke(
            v2_event(
                "GET",
                "/integrations",
                headers={"authorization": f"Bearer {secret_key}", "accept": "text/html, application/json"},
                cookies=["a=1", "b=2"],
            )
        )
        check("admin: cookies + multi-value headers", r["statusCode"] == 200, body_of(r))
        r = admin.invoke(v2_event("GET", "/nope", headers={"authorization": f"Bearer {secret_key}"}))
        check(
            "admin: unknown route is a JSON 404",
            r["statusCode"] == 404 and json.loads(body_of(r))["error"]["code"] == "not_found",
            body_of(r),
        )
        r = admin.invoke(v2_event("GET", "/integrations", stage="$default", headers={"authorization": f"Bearer {secret_key}"}))
        check("admin: $default stage (no prefix)", r["statusCode"] == 200, body_of(r))
        # Webhooks to the team's https receiver, whose certificate the functions trust through
        # LATCHKEY_EXTRA_CA_FILE; plain http is refused (no development switch on Lambda).
        patch = lambda body: admin.invoke(
            v2_event(
                "PATCH",
                "/environment",
                headers={"authorization": f"Bearer {secret_key}", "content-type": "application/json"},
                body=json.dumps(body).encode(),
            )
        )
        r = patch({"webhook_url": receiver.url.replace("https:", "http:")})
        check("admin: an http webhook_url is refused", r["statusCode"] == 400, body_of(r))
        r = patch({"webhook_url": receiver.url})
        check("admin: PATCH /environment webhook_url", r["statusCode"] == 200, body_of(r))

        # Connect: percent-encoded brackets in the raw query.
        start = Function("auth-start", env, BIN_DIR, OUT_DIR)
        fns.append(start)
        query = (
            f"public_key={urllib.parse.quote(public_key)}&connection_id=user-1"
            "&params%5Bsubdomain%5D=acme&authorization_params%5Bprompt%5D=consent"
        )
        r = start.invoke(v2_event("GET", "/oauth/connect/acme-crm", query=query, headers={"origin": "https://app.example.com"}))
        location = header(r, "location") or ""
        check("auth-start: 30x to the provider", r["statusCode"] in (302, 303) and location.startswith("https://id.example.com/authorize"), f"{r['statusCode']} {body_of(r)}")
        auth_q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
        check("auth-start: authorization_params[prompt] reached the URL", auth_q.get("prompt") == ["consent"], location)
        check(
            "auth-start: redirect_uri is the public callback",
            auth_q.get("redirect_uri") == [f"{public_url}/oauth/callback"],
            location,
        )
        state = (auth_q.get("state") or [""])[0]
        # The flow's browser binding: a cookie for the API's own callback path (stage included),
        # which the browser brings back after the callback domain's 308.
        flow_cookie = next((c for c in (r.get("cookies") or []) if "latchkey_flow_" in c), "")
        check(
            "auth-start: sets the flow cookie (__Secure-, HttpOnly, SameSite=Lax, the stage's callback path)",
            flow_cookie.startswith("__Secure-latchkey_flow_")
            and all(a in flow_cookie.split("; ") for a in ["HttpOnly", "SameSite=Lax", "Secure", f"Path=/{STAGE}/oauth/callback"]),
            json.dumps(r.get("cookies")),
        )
        flow_cookie = flow_cookie.split(";")[0]

        # callback-redirect: 308, query kept byte for byte.
        redirect = Function("callback-redirect", env, BIN_DIR, OUT_DIR)
        fns.append(redirect)
        raw = f"code=the-code&state={urllib.parse.quote(state)}&extra%5Bx%5D=a%2Fb"
        r = redirect.invoke(v2_event("GET", "/oauth/callback", query=raw, stage="$default"))
        check(
            "callback-redirect: 308 with the whole query",
            r["statusCode"] == 308 and header(r, "location") == f"{public_url}/oauth/callback?{raw}",
            json.dumps(r),
        )

        callback = Function("oauth-callback", env, BIN_DIR, OUT_DIR)
        fns.append(callback)
        r = callback.invoke(v2_event("GET", "/oauth/callback", query=raw, cookies=[flow_cookie]))
        check("oauth-callback: stores the connection", r["statusCode"] == 200, f"{r['statusCode']} {body_of(r)[:300]}")
        check(
            "oauth-callback: clears the flow cookie",
            any(c.startswith(flow_cookie.split("=")[0] + "=;") and "Max-Age=0" in c for c in (r.get("cookies") or [])),
            json.dumps(r.get("cookies")),
        )
        r = callback.invoke(v2_event("GET", "/oauth/callback", query=raw))
        check("oauth-callback: a callback without the flow cookie is refused", r["statusCode"] == 400 and "state_err" in body_of(r), f"{r['statusCode']}")

        conns = Function("connections", env, BIN_DIR, OUT_DIR)
        fns.append(conns)
        q = "provider_config_key=acme-crm"
        auth = {"authorization": f"Bearer {secret_key}"}
        cold = conns.invoke(v2_event("GET", "/connections/user-1", query=q, headers=auth))
        warm = conns.invoke(v2_event("GET", "/connections/user-1", query=q, headers=auth))
        check("connections: cold read", cold["statusCode"] == 200, body_of(cold))
        check("connections: warm read", warm["statusCode"] == 200, body_of(warm))
        if warm["statusCode"] == 200:
            got = json.loads(body_of(warm))
            check("connections: access token", got.get("credentials", {}).get("access_token") == "at-1", str(got)[:300])
            check(
                "connections: params[subdomain] became connection config",
                got.get("connection_config", {}).get("subdomain") == "acme",
                str(got)[:300],
            )
        signed_path = f"/{STAGE}/connections/user-1?{q}"
        r = conns.invoke(v2_event("GET", "/connections/user-1", query=q, headers=sign(secret_key, "GET", signed_path)))
        check("connections: signed read with the stage in the signed path", r["statusCode"] == 200, body_of(r))

        # The socket of Nango's frontend client on the WebSocket API.
        invoke_api = InvokeApi()
        urllib.request.urlopen(
            urllib.request.Request(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/recorder/start-recording", method="POST")
        ).read()
        ws = Function("websocket", {**env, "AWS_ENDPOINT_URL_LAMBDA": invoke_api.url}, BIN_DIR, OUT_DIR)
        fns.append(ws)
        invoke_api.functions["websocket"] = ws
        app_origin = "https://app.example.com"
        r = ws.invoke(ws_event("CONNECT", "$connect", "conn-ws-1", headers={"Origin": app_origin, "Host": "ws123.execute-api.us-east-1.amazonaws.com"}))
        check("websocket: $connect is accepted", r.get("statusCode") == 200, json.dumps(r))
        frames = posted("conn-ws-1")
        ack = frames[0] if frames else {}
        check(
            "websocket: the greeting (an invocation of itself) posts connection_ack with a ws_client_id",
            ack.get("message_type") == "connection_ack" and len(ack.get("ws_client_id", "")) >= 43,
            json.dumps(frames),
        )
        client_id = ack.get("ws_client_id", "")
        r = ws.invoke(ws_event("CONNECT", "$connect", "conn-ws-bare", headers={"Host": "ws123.execute-api.us-east-1.amazonaws.com"}))
        refused = posted("conn-ws-bare")
        check(
            "websocket: a socket from no web page is greeted with origin_not_allowed",
            r.get("statusCode") == 200 and refused and refused[0].get("error_type") == "origin_not_allowed",
            json.dumps(refused),
        )
        r = ws.invoke(ws_event("MESSAGE", "$default", "conn-ws-1", body='{"action":"hello"}'))
        check("websocket: $default ignores a message", r.get("statusCode") == 200, json.dumps(r))

        # Another page cannot bind its flow to this socket.
        query = f"public_key={urllib.parse.quote(public_key)}&connection_id=user-ws&ws_client_id={client_id}"
        r = start.invoke(
            v2_event("GET", "/oauth/connect/acme-crm", query=query, headers={"origin": "https://evil.example", "accept": "application/json"})
        )
        check(
            "auth-start: a ws_client_id from another page's socket is refused",
            r["statusCode"] == 400 and "another page" in body_of(r),
            f"{r['statusCode']} {body_of(r)}",
        )
        r = start.invoke(v2_event("GET", "/oauth/connect/acme-crm", query=query, headers={"origin": app_origin}))
        location = header(r, "location") or ""
        check("auth-start: the socket's own page starts the flow", r["statusCode"] == 302, f"{r['statusCode']} {body_of(r)}")
        ws_state = (urllib.parse.parse_qs(urllib.parse.urlparse(location).query).get("state") or [""])[0]
        ws_cookie = next((c for c in (r.get("cookies") or []) if "latchkey_flow_" in c), "").split(";")[0]
        r = callback.invoke(
            v2_event("GET", "/oauth/callback", query=f"code=the-code&state={urllib.parse.quote(ws_state)}", cookies=[ws_cookie])
        )
        check("oauth-callback: stores the socket's connection", r["statusCode"] == 200, f"{r['statusCode']} {body_of(r)[:200]}")
        frames = posted("conn-ws-1")
        check(
            "oauth-callback: PostToConnection carries the success message",
            frames[1:] == [{"message_type": "success", "provider_config_key": "acme-crm", "connection_id": "user-ws", "is_pending": False}],
            json.dumps(frames),
        )
        r = ws.invoke(ws_event("DISCONNECT", "$disconnect", "conn-ws-1", headers={"Host": "ws123.execute-api.us-east-1.amazonaws.com"}))
        check("websocket: $disconnect", r.get("statusCode") == 200, json.dumps(r))
        w_init, _ = ws.calls()
        check("websocket: reads no secret at start", w_init is not None and w_init[2] == 0, str(w_init))

        for fn, n in [(admin, 8), (start, 1), (callback, 2), (conns, 3)]:
            wait_for_log(fn, n)
        s_init, s_calls = start.calls()
        c_init, c_calls = callback.calls()
        n_init, n_calls = conns.calls()
        calls = {
            "container start (any function)": s_init,
            "connect (GET /oauth/connect)": s_calls[0] if s_calls else None,
            "callback (GET /oauth/callback)": c_calls[0] if c_calls else None,
            "cold read (GET /connections/{id}, first in container)": n_calls[0] if len(n_calls) > 0 else None,
            "warm read (GET /connections/{id}, again)": n_calls[1] if len(n_calls) > 1 else None,
        }
        check("warm read is exactly one DynamoDB call and no KMS call", calls["warm read (GET /connections/{id}, again)"] == (1, 0, 0), str(calls))
        served = [l for l in conns.lines() if l.get("message") == "served"]
        check(
            "connections: each request's line is JSON with its Lambda and API Gateway ids and its connection",
            len(served) == 3
            and all(l.get("aws_request_id") and l.get("api_request_id") and l.get("xray_trace_id") for l in served)
            and all(l.get("connection_id") == "user-1" and l.get("integration") == "acme-crm" for l in served)
            and all("?" not in l.get("path", "?") for l in served),
            json.dumps(served)[:600],
        )
        emf = [l for l in callback.lines() if "_aws" in l]
        check(
            "oauth-callback: the stored connection is an EMF metric",
            any(
                l.get("AuthSucceeded") == 1
                and l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Latchkey"
                and l.get("Environment") == STAGE
                for l in emf
            ),
            json.dumps(emf)[:600],
        )
        r_init, _ = redirect.calls()
        check("callback-redirect touches no AWS service", r_init is None, str(r_init))

        # The callback's webhook, then an import's, through the worker; then the purge.
        worker = Function("worker", env, BIN_DIR, OUT_DIR)
        fns.append(worker)
        calls.update(webhooks_through_worker(admin, conns, worker, receiver, secret_key, signing_key, queue_url))
        # Refreshes: on read, and on schedule through the worker, with their webhooks.
        scheduler = Function("refresh-scheduler", env, BIN_DIR, OUT_DIR)
        fns.append(scheduler)
        calls.update(refreshes_through_scheduler(conns, scheduler, worker, provider, receiver, secret_key, signing_key, queue_url))
        # Deleting the integration: gone at once, purged by the worker from the queue.
        purge_calls = purge_through_worker(admin, conns, worker, secret_key, table, queue_url)
        calls.update(purge_calls)
    finally:
        for fn in fns:
            fn.stop()
    out = os.environ.get("LATCHKEY_CALLS_OUT")
    if out:
        with open(out, "w") as f:
            json.dump({k: list(v) if v else None for k, v in calls.items()}, f, indent=2)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
