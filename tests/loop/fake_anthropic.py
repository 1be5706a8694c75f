"""A fake Anthropic Messages API on 127.0.0.1 (http.server in a thread) for the real SDK."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from collections.abc import Callable


def tool_use(name: str, inp: dict[str, Any], use_id: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"id": f"msg_{use_id}", "type": "message", "role": "assistant", "model": "fake",
            "content": [{"type": "text", "text": "thinking"}, {"type": "tool_use", "id": use_id, "name": name, "input": inp}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 5}}


def text_reply(text: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"id": "msg_text", "type": "message", "role": "assistant", "model": "fake",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 5}}


RATE_LIMITED = (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
OVERLOADED = (529, {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}})


class FakeAnthropic:
    """Answers POST /v1/messages from a queue of (status, body); records every request."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]],
                 responder: Callable[[dict[str, Any]], tuple[int, dict[str, Any]] | None] | None = None) -> None:
        """`responder` answers a request by its content (None: the next queued reply), for requests
        that arrive in parallel and in no fixed order."""
        self.replies = list(replies)
        self.responder = responder
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                answer = fake.responder(body) if fake.responder else None  # in parallel, as a server would
                if answer is None:
                    with fake.lock:
                        answer = fake.replies.pop(0) if fake.replies else OVERLOADED
                status, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status >= 400:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
