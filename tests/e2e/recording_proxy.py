"""A recording stand-in for the package proxy (issue 21): an HTTP proxy endpoint in a test's network namespace
that logs every request (client address, method, absolute URL, proxy user) and answers it itself.

It never connects anywhere: every request gets `BODY` (200) for GET, 405 otherwise, so a guest's apt reaching
it proves the guest's proxy settings without any traffic leaving the namespace. One JSON object per request in
the log file; the first line says it listens.

    with RecordingProxy(netns, "10.231.0.1", 3128, log_file) as proxy: ...; proxy.requests()
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

BODY = b"osl-e2e recording proxy\n"
START_BOUND = 20  # seconds the server may take to listen


class _Handler(BaseHTTPRequestHandler):
    log_path: Path

    def _record(self) -> None:
        auth = self.headers.get("Proxy-Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode(errors="replace").split(":", 1)[0]
        entry = {"client": self.client_address[0], "method": self.command, "target": self.path, "user": user,
                 "authorized": bool(auth)}
        with self.log_path.open("a") as log:
            log.write(json.dumps(entry) + "\n")

    def do_GET(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def _refuse(self) -> None:
        self._record()
        self.send_error(405, "the recording proxy answers GET only")

    do_HEAD = do_CONNECT = do_POST = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(host: str, port: int, log_path: Path) -> None:
    _Handler.log_path = log_path
    server = ThreadingHTTPServer((host, port), _Handler)
    with log_path.open("a") as log:
        log.write(json.dumps({"listening": f"{host}:{port}"}) + "\n")
    server.serve_forever()


class RecordingProxy:
    """The server run under `ip netns exec <netns>` (the test's own namespace), bound to one address there."""

    def __init__(self, netns: str, host: str, port: int, log_path: Path) -> None:
        self.netns, self.host, self.port, self.log_path = netns, host, port, log_path
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "RecordingProxy":
        self.log_path.write_text("")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, sys.executable, __file__, self.host,
                                      str(self.port), str(self.log_path)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_BOUND
        while '"listening"' not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the recording proxy did not listen on {self.url} in netns {self.netns} "
                                   f"within {START_BOUND} s: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def requests(self) -> list[dict]:
        return [entry for entry in map(json.loads, self.log_path.read_text().splitlines()) if "method" in entry]


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
