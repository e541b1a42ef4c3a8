"""A webhook receiver on the loopback for tests: records every request and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, to make the client time out


@dataclass
class Received:
    path: str
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver: records every request and answers with the queued answers, then 200."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/T0SECRET/B0TOKEN"

    def answer(self, *answers: int | Answer) -> None:
        self.answers = [a if isinstance(a, Answer) else Answer(a) for a in answers]

    def take(self, request: Received) -> Answer:
        with self.lock:
            self.requests.append(request)
            return self.answers.pop(0) if self.answers else Answer()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has gone; writing the late answer fails, as it should."""


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port, in a thread, for as long as the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = owner.take(Received(self.path, self.headers, body))
            time.sleep(answer.delay)
            reply = b'{"ok": true}' if answer.status < 400 else b"invalid_payload"
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output for failures."""

    server = QuietServer(("127.0.0.1", 0), Handler)
    owner = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield owner
    server.shutdown()
    server.server_close()
    thread.join()
