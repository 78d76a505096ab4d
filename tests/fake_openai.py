"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that must not touch
the network.

    with FakeOpenAI([Reply(status=429), Reply("hello")]) as server:
        client = ModelClient(settings, api_base=server.url, api_key="sk-test")
        ...
        assert len(server.requests) == 2

Replies are used in order; the last one repeats, so ``[Reply(status=500)]`` fails forever.
``replies`` may instead be a function of the request body that returns the reply (a model
that reads its prompt). Every request body (parsed JSON) is kept in ``server.requests``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = "ok"
    status: int = 200
    delay_s: float = 0.0  # sleep before answering (to provoke client timeouts)
    prompt_tokens: int = 10
    completion_tokens: int = 5
    error: str = "scripted failure"
    model: str | None = None  # the model name the server reports (default: the one asked for)


class FakeOpenAI:
    def __init__(self, replies: "list[Reply | str] | Callable[[dict], Reply | str] | None" = None):
        self.respond = replies if callable(replies) else None
        self.replies = [] if self.respond else [r if isinstance(r, Reply) else Reply(r) for r in (replies or [Reply()])]
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    n = len(server.requests)
                    if server.respond:
                        reply = server.respond(body)
                        reply = reply if isinstance(reply, Reply) else Reply(reply)
                    else:
                        reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status == 200:
                    payload = {
                        "id": f"chatcmpl-fake-{n}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": reply.model or body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": reply.prompt_tokens,
                            "completion_tokens": reply.completion_tokens,
                            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                        },
                    }
                else:
                    payload = {"error": {"message": reply.error, "type": "fake_error", "code": reply.status}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to tell it

            def log_message(self, format, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True  # a sleeping handler must not block shutdown
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def messages(self, i: int = -1) -> list[dict]:
        """The messages of request ``i``."""
        return self.requests[i]["messages"]
