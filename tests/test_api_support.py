"""Helpers for the API tests: start the real server (`sortai serve`) as a subprocess on a free loopback port.

Imported by the test_api_*.py modules; it holds no tests itself.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCENARIOS = sorted(EXAMPLES.glob("*/description.yaml"))
TOKEN = "test-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`sortai serve` in a subprocess; `start()` waits for /health."""

    def __init__(self, data_dir: Path, token: str | None = TOKEN, env: dict | None = None,
                 args: list[str] | None = None, preexec=None):
        self.data_dir = Path(data_dir)
        self.token = token
        self.extra_env = env or {}
        self.args = args or []
        self.preexec = preexec  # e.g. resource limits for the server process
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sortai.reasoner.cli", "serve", "--host", "127.0.0.1", "--port",
                str(self.port), "--data-dir", str(self.data_dir), *self.args]

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "SORTAI_TOKEN"}
        env.update({"SORTAI_SPARQL_WORKERS": "2", "SORTAI_REASONING_WORKERS": "2", "SORTAI_LOG_LEVEL": "warning"})
        if self.token:
            env["SORTAI_TOKEN"] = self.token
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> "Server":
        handle = open(self.log, "ab")
        self.process = subprocess.Popen(self.command(), env=self.environment(), stdout=handle, stderr=handle,
                                        start_new_session=True, preexec_fn=self.preexec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become healthy:\n" + self.log.read_text())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)  # the server and its worker processes (own session)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self, token: str | None = "default", timeout: float = 120) -> httpx.Client:
        headers = {}
        token = self.token if token == "default" else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class LoopbackHTTPServer:
    """A plain HTTP server on a free loopback port, serving in a thread while the `with` block runs."""

    def __init__(self, handler, path: str = ""):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Listener(LoopbackHTTPServer):
    """A local HTTP listener that records every request it sees (for 'the server must never fetch' tests)."""

    def __init__(self):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                outer.requests.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.end_headers()
                self.wfile.write(b'{"@context": {}}')

            do_GET = do_POST = do_HEAD = _record

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def assert_json_error(response: httpx.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert "Traceback" not in response.text and 'File "' not in response.text
    if error is not None:
        assert body["error"] == error, body
    return body


def upload(client: httpx.Client, path: Path, description_id: str | None = None, media: str = "application/yaml",
           data: bytes | None = None) -> httpx.Response:
    params = {"filename": path.name}
    if description_id:
        return client.put(f"/descriptions/{description_id}", params=params, content=data or path.read_bytes(),
                          headers={"Content-Type": media})
    return client.post("/descriptions", params=params, content=data or path.read_bytes(),
                       headers={"Content-Type": media})
