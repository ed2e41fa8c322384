"""A local Lambda Runtime API (one per function process) and Lambda's Invoke API for asynchronous
invocations, for `runtime_test.py`: the function binaries run as they do in Lambda, one
invocation at a time, and their AWS call counts are read from their `aws_calls` log lines."""

import json
import os
import queue
import re
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Runtime:
    """One Runtime API endpoint serving one function process, one invocation at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = {}
        self.done = threading.Condition()
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/2018-06-01/runtime/invocation/next":
                    request_id, event = runtime.events.get()
                    body = json.dumps(event).encode()
                    self.send_response(200)
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                    self.send_header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:test",
                    )
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.end_headers()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                if m:
                    with runtime.done:
                        runtime.responses[m.group(1)] = (m.group(2), body)
                        runtime.done.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def enqueue(self, event):
        """An asynchronous invocation: queued, its response not awaited."""
        self.events.put((str(uuid.uuid4()), event))

    def invoke(self, event, timeout=30):
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        deadline = time.time() + timeout
        with self.done:
            while request_id not in self.responses:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no response from the function")
                self.done.wait(left)
            kind, body = self.responses.pop(request_id)
        if kind == "error":
            raise RuntimeError(f"function error: {body!r}")
        return json.loads(body)


class Function:
    """A function binary running against its own Runtime API emulator."""

    def __init__(self, name, env, bin_dir, log_dir):
        self.name = name
        self.runtime = Runtime()
        self.log = open(os.path.join(log_dir, f"lambda-{name}.log"), "w+")
        full_env = dict(os.environ)
        full_env.update(env)
        full_env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.runtime.address,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_STREAM_NAME": "test",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "RUST_LOG": "info",
            }
        )
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, name)], env=full_env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def invoke(self, event):
        return self.runtime.invoke(event)

    def lines(self):
        """The function's log lines, each a JSON object (the Lambda log format)."""
        self.log.flush()
        with open(self.log.name) as f:
            return [json.loads(line) for line in f if line.strip()]

    def calls(self):
        """(init, [per invocation]) AWS call counts from the `aws_calls` log lines."""
        found = [
            (line["message"].split()[1], (line["dynamodb"], line["kms"], line["secretsmanager"]))
            for line in self.lines()
            if line.get("message", "").startswith("aws_calls ")
        ]
        init = [c for k, c in found if k == "init"]
        return (init[0] if init else None), [c for k, c in found if k == "invocation"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.runtime.server.shutdown()


class InvokeApi:
    """Lambda's Invoke API for the functions started here: `InvocationType: Event` is queued for
    the named function's binary, as Lambda's asynchronous invocation does."""

    def __init__(self):
        self.functions = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                m = re.match(r"^/2015-03-31/functions/([^/]+)/invocations", self.path)
                fn = api.functions.get(urllib.parse.unquote(m.group(1))) if m else None
                if fn is None or self.headers.get("X-Amz-Invocation-Type") != "Event":
                    self.send_response(404 if fn is None else 400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fn.runtime.enqueue(payload)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
