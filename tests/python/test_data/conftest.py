"""Fixtures of the data-package tests: an isolated lookup environment and tiny datasets.

Every test here runs with `TRITON_DATA` unset, the per-user cache redirected into the
test's temporary directory and `TRITON_DATA_MIRROR` pointing at a closed port on
127.0.0.1, so a test that downloads by mistake fails fast instead of touching the network
or the user's cache. The dataset writers are in `datafiles.py`.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
from datafiles import closed_port_url


@pytest.fixture(autouse=True)
def data_env(tmp_path, monkeypatch) -> Path:
    """Isolates lookups and downloads; returns the redirected cache root's parent."""
    monkeypatch.delenv("TRITON_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("TRITON_DATA_MIRROR", closed_port_url())
    return tmp_path / "xdg-cache"


@pytest.fixture
def http_root(tmp_path):
    """A directory served over HTTP on 127.0.0.1; yields (directory, base URL)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
