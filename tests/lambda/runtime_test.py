"""Runs the built Lambda binaries under a local Lambda Runtime API and sends them API Gateway
HTTP API (v2) events shaped like real traffic: a named stage, percent-encoded brackets in the
query, base64 bodies, cookies, comma-joined multi-value headers. The AWS backend is a moto
server (AWS_ENDPOINT_URL) with the table and the jobs queue as template.yaml declares them; a
tiny OAuth2 provider answers the token request. The worker gets SQS events built from the
messages the other functions sent, and must report exactly the failed ones.

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
import hashlib
import hmac
import json
import os
import sys
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
    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                ok = form.get("code") == ["the-code"]
                body = json.dumps(
                    {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "bearer"}
                    if ok
                    else {"error": "invalid_grant"}
                ).encode()
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
    check("worker: the malformed message is the one failure reported", failures == ['{"kind": "not-a-job"}'], str(failures))
    check("worker: the purge deleted the connection item", "Item" not in ddb.get_item(TableName=table, Key=key))
    wait_for_log(worker, batches)
    init, per_batch = worker.calls()
    return {
        f"worker: purge of 1 connection ({batches} batches: fan-out, shard steps, a bad message)": [
            sum(c[i] for c in per_batch) for i in range(3)
        ]
        if per_batch
        else None,
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
        r = callback.invoke(v2_event("GET", "/oauth/callback", query=raw))
        check("oauth-callback: stores the connection", r["statusCode"] == 200, f"{r['statusCode']} {body_of(r)[:300]}")

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
        r = callback.invoke(v2_event("GET", "/oauth/callback", query=f"code=the-code&state={urllib.parse.quote(ws_state)}"))
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

        for fn, n in [(admin, 6), (start, 1), (callback, 1), (conns, 3)]:
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

        # Deleting the integration: gone at once, purged by the worker from the queue.
        worker = Function("worker", env, BIN_DIR, OUT_DIR)
        fns.append(worker)
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
