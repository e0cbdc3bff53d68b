"""moto server, with the atomicity the real services have.

`moto_server` handles requests on parallel threads, but its backends are not
thread-safe:
- DynamoDB checks a condition and then applies the write as two unlocked steps,
  so two racing conditional updates of one item can both succeed, which DynamoDB
  never allows. A failing transaction rolls back by putting back a copy of the
  whole table taken when it began (losing what others wrote meanwhile), and
  taking that copy fails with a 500 when another thread writes during it.
- SQS deletes a message by rebuilding the queue's message list without the lock
  that sending takes, so a message sent at that moment (an S3 notification, say)
  can vanish; and creating two queues at once can fail with a 500.

Rampart relies on DynamoDB's atomicity (optimistic versioning, apply-once job
reports, once-per-period claims) and on SQS keeping every message, so this
server runs moto's own WSGI application with DynamoDB requests handled one at a
time, SQS requests other than the long-polling receive one at a time, and SQS's
delete under the queue's lock. S3 and long polls stay parallel.

Usage: server.py HOST PORT
"""

import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sqs.models import Queue

# The JSON protocols name the operation in this header, e.g.
# "DynamoDB_20120810.UpdateItem" or "AmazonSQS.SendMessage".
DYNAMODB_TARGET_PREFIX = "DynamoDB_"
SQS_TARGET_PREFIX = "AmazonSQS."
# A long poll waits up to 20 s for messages: it must not hold the SQS lock.
SQS_LONG_POLL = "AmazonSQS.ReceiveMessage"


class SerializedRequests:
    """WSGI middleware that handles DynamoDB requests one at a time, and SQS
    requests other than the long-polling receive one at a time (moto's queue
    registry is also unlocked: two queues created at once can fail with a 500)."""

    def __init__(self, app):
        self.app = app
        self.dynamodb = threading.Lock()
        self.sqs = threading.Lock()

    def lock_for(self, environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(DYNAMODB_TARGET_PREFIX):
            return self.dynamodb
        if target.startswith(SQS_TARGET_PREFIX) and target != SQS_LONG_POLL:
            return self.sqs
        return None

    def __call__(self, environ, start_response):
        lock = self.lock_for(environ)
        if lock is None:
            return self.app(environ, start_response)
        with lock:
            # The whole response is produced inside the lock: a lazily iterated
            # body could otherwise still be reading the table after release.
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def lock_sqs_deletes() -> None:
    """Makes moto's SQS delete hold the queue's lock, as its send does."""
    delete = Queue.delete_message

    def delete_message(self, receipt_handle):
        with self._messages_lock:
            return delete(self, receipt_handle)

    Queue.delete_message = delete_message


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # As moto_server does: some responses (S3 URLs) name the port.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lock_sqs_deletes()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        SerializedRequests(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
