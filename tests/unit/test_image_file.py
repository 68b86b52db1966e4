"""providers/image_file.py: a local file or a download, verified by its checksum (served from 127.0.0.1)."""
import base64
import hashlib
import http.server
import threading
from pathlib import Path

import pytest


def test_image_file_verifies_a_local_file(tmp_path):
    from providers.image_file import ImageChecksumMismatch, fetch

    image = tmp_path / "cirros.img"
    image.write_bytes(b"QFI\xfb" + b"\0" * 1000)
    sha = hashlib.sha256(image.read_bytes()).hexdigest()
    got = fetch({"source": str(image), "sha256": sha, "cache_dir": str(tmp_path / "cache")})
    assert got == {"path": str(image), "sha256": sha, "size": 1004, "downloaded": False}
    assert fetch({"source": str(image), "sha256": None, "cache_dir": ""})["sha256"] == sha
    with pytest.raises(ImageChecksumMismatch, match="not the expected"):
        fetch({"source": str(image), "sha256": "0" * 64, "cache_dir": ""})
    with pytest.raises(FileNotFoundError):
        fetch({"source": str(tmp_path / "missing.img"), "sha256": sha, "cache_dir": ""})


@pytest.fixture
def http_image(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "disk.img").write_bytes(b"image bytes" * 100)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/disk.img", hashlib.sha256(b"image bytes" * 100).hexdigest()
    server.shutdown()


def test_image_file_downloads_once_verifies_and_refuses_a_wrong_checksum(tmp_path, http_image):
    from providers.image_file import ImageChecksumMismatch, fetch

    url, sha = http_image
    cache = tmp_path / "cache"
    got = fetch({"source": url, "sha256": sha, "cache_dir": str(cache)})
    assert got["downloaded"] and got["sha256"] == sha and got["size"] == 1100
    calls = []

    def no_network(*a, **kw):
        calls.append(a)
        raise AssertionError("downloaded again")

    assert fetch({"source": url, "sha256": sha, "cache_dir": str(cache)}, opener=no_network)["path"] == got["path"]
    with pytest.raises(ImageChecksumMismatch, match="nothing was uploaded"):
        fetch({"source": url, "sha256": "1" * 64, "cache_dir": str(cache)})
    assert sorted(p.name for p in cache.iterdir()) == [got["path"].rsplit("/", 1)[1]]  # no partial left


def test_image_file_diff_replaces_on_another_source_or_checksum():
    from providers.image_file import _ImageFileProvider

    olds = {"source": "/a.img", "sha256": "x", "cache_dir": "/c", "path": "/a.img", "size": 1, "downloaded": False}
    p = _ImageFileProvider()
    assert not p.diff("x", olds, {**olds, "path": None, "size": None, "downloaded": None}).changes
    assert p.diff("x", olds, {**olds, "source": "/b.img"}).replaces == ["source"]
    assert not p.diff("x", olds, {**olds, "sha256": None}).changes  # a local file's recorded checksum


def test_image_file_downloads_through_the_given_proxy_with_its_login(tmp_path):
    from providers.image_file import fetch

    # packageSources.proxy (issue 21): the download goes to the proxy (an absolute URL, the login as Basic auth);
    # the image's own host is never looked up or contacted.
    payload = b"proxied image" * 50
    seen = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Proxy-Authorization")))
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        got = fetch({"source": "http://images.example.invalid/cirros.img",
                     "sha256": hashlib.sha256(payload).hexdigest(), "cache_dir": str(tmp_path / "cache"),
                     "proxy": f"http://u:pw@127.0.0.1:{server.server_address[1]}"})
    finally:
        server.shutdown()
    assert got["downloaded"] and Path(got["path"]).read_bytes() == payload
    assert seen == [("http://images.example.invalid/cirros.img", "Basic " + base64.b64encode(b"u:pw").decode())]
