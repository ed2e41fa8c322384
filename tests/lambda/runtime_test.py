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

import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid

import boto3
import yaml

from emulator import Function, InvokeApi
from harness import RESULTS, STAGE, body_of, check, derive, header, posted, sign, v2_event, wait_for_log, ws_event
from peers import Provider, Receiver, test_ca
from worker_checks import purge_through_worker, refreshes_through_scheduler, webhooks_through_worker

BIN_DIR = sys.argv[1]


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
