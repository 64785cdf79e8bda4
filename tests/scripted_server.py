"""A scripted OpenAI-compatible server for tests: a real HTTP server on localhost (chat and completions APIs) whose
every answer comes from a function of the prompt, so failure cases and scores are deterministic."""
import json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        script: ScriptedServer = self.server.script
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chat = "messages" in body
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        script.calls += 1
        time.sleep(script.delay_s)
        text = script.reply(prompt)
        if isinstance(text, bytes):  # a raw body (an HTML error page, truncated JSON) or b"" to hang up
            return self._raw(text)
        choice = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        usage = dict(zip(["prompt_tokens", "completion_tokens"], script.usage))
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"choices": [choice | {"finish_reason": "stop"}], "usage": usage}).encode())
        except BrokenPipeError:  # the client was killed mid-request (a test that kills its client)
            pass

    def _raw(self, body: bytes):
        if not body:
            self.close_connection = True  # the connection drops with no answer at all
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ScriptedServer:
    "`with ScriptedServer(reply) as s:` serves `reply(prompt) -> text` at `s.url` (…/v1); `s.calls` counts requests."

    def __init__(self, reply: Callable[[str], str], delay_s: float = 0.0, usage: tuple[int, int] = (50, 10)):
        self.reply, self.delay_s, self.usage, self.calls = reply, delay_s, usage, 0
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.script = self
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedServer":
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()
