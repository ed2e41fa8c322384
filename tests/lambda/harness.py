"""What the runtime test sends and checks with: its tally of checks, the events API Gateway,
SQS and EventBridge hand a function, the environment's derived keys and request signatures."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import urllib.request
import uuid


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
