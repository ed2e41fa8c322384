"""moto's server (what `moto_server` runs), with each DynamoDB request applied whole before the
next one starts.

moto serves requests on threads and does not make a conditional write atomic: two concurrent
`attribute_not_exists(PK)` puts can both succeed, which DynamoDB never allows. Latchkey's
correctness rests on that guarantee (one refresh lease holder, one creator of a connection, a
version checked and bumped in one step), and its tests race writers on purpose, so DynamoDB's
requests are serialized here. Other services (SQS long polls, KMS) keep running concurrently.

Usage: python moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class SerialDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # The body is produced inside the lock: that is when moto applies the request.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(args.host, args.port, SerialDynamoDB(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
