"""moto's server, with requests handled one at a time.

moto keeps its DynamoDB tables in plain Python objects without locks, so two threads of its
threaded server can both pass the condition of a conditional write before either writes (two
"first" creates of one item, two upserts on one version). DynamoDB itself applies the writes
of an item one at a time, and Latchkey relies on that; this server gives moto the same
guarantee by running each request under one lock. Connections are still accepted on threads.

Usage: moto_server.py <host> <port>
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole answer is produced inside the lock.
            return list(app(environ, start_response))

    run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
