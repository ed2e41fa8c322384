"""AWS STS and IAM on moto, over TLS for the regional STS names, with moto's request
authentication on: every request after the setup below must be signed (SigV4, recomputed by
moto with botocore) by a known access key, and AssumeRole is judged by the role's trust policy,
including its `sts:ExternalId` condition. The AWS_SIGV4 e2e tests' peer: what AWS checks is
checked by moto, not by us.

Setup (the only unauthenticated requests, `INITIAL_NO_AUTH_ACTION_COUNT`): an IAM user
`latchkey` (the integration's access key) allowed `sts:AssumeRole`, and a customer role
`CustomerAccess` trusting the account only with the external id `team-ext-7`.

The certificate is made at start by `make_certificates` of the two-step peer (a test CA the test
trusts). Prints one JSON line when ready ({"port", "control_port", "ca", "access_key_id",
"secret_access_key", "role_arn", "external_id"}); `GET /_stats` on the control port counts the
STS actions received and the answers refused. Exits when stdin closes.

Usage: <moto venv>/bin/python sts.py
"""

import io
import json
import logging
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SETUP_CALLS = 4
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_CALLS)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "two_step"))
from server import make_certificates  # noqa: E402

import boto3  # noqa: E402
import urllib3  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

HOSTS = ["sts.us-east-1.amazonaws.com", "sts.eu-west-1.amazonaws.com"]
EXTERNAL_ID = "team-ext-7"

lock = threading.Lock()
stats = {"requests": 0, "refused": 0, "actions": {}}


class Counted:
    """Counts each STS action and each refused answer (status 400 or more)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]

        def counting(status, headers, exc_info=None):
            with lock:
                stats["requests"] += 1
                stats["actions"][action] = stats["actions"].get(action, 0) + 1
                if int(status.split()[0]) >= 400:
                    stats["refused"] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting)


class Control(BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            body = json.dumps(stats).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def setup(port):
    urllib3.disable_warnings()
    client = lambda service: boto3.client(  # noqa: E731
        service, endpoint_url=f"https://127.0.0.1:{port}", verify=False, region_name="us-east-1",
        aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = client("iam")
    iam.create_user(UserName="latchkey")
    key = iam.create_access_key(UserName="latchkey")["AccessKey"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    iam.put_user_policy(UserName="latchkey", PolicyName="assume", PolicyDocument=json.dumps(allow))
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
    role = iam.create_role(RoleName="CustomerAccess", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    return key, role


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    directory = tempfile.mkdtemp()
    ca, cert, key = make_certificates(directory, HOSTS)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, Counted(app), threaded=True, ssl_context=(cert, key))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    port = server.server_port
    access_key, role = setup(port)
    with lock:
        stats.update(requests=0, refused=0, actions={})
    with open(ca) as f:
        ca_pem = f.read()
    print(json.dumps({
        "port": port, "control_port": control.server_address[1], "ca": ca_pem,
        "access_key_id": access_key["AccessKeyId"], "secret_access_key": access_key["SecretAccessKey"],
        "role_arn": role["Arn"], "external_id": EXTERNAL_ID}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
