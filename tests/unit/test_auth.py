"""Who may call what, decided without a server: loopback hosts, the open-bind refusal, the serve command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.api.auth import is_loopback, open_bind_refusal
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.org", "", "testclient"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_an_open_service_on_the_network_is_refused_with_the_way_out() -> None:
    refusal = open_bind_refusal("0.0.0.0", Settings())
    assert refusal is not None
    assert "0.0.0.0" in refusal and "MULTIVEC_API_KEY" in refusal and "MULTIVEC_ALLOW_OPEN" in refusal


@pytest.mark.parametrize(("host", "settings", "allow_open"), [
    ("127.0.0.1", Settings(), False),
    ("localhost", Settings(), False),
    ("0.0.0.0", Settings(api_key="k"), False),
    ("0.0.0.0", Settings(read_only_api_key="r"), False),
    ("0.0.0.0", Settings(allow_open=True), False),
    ("0.0.0.0", Settings(), True),
], ids=["loopback", "localhost", "rw key", "read-only key", "MULTIVEC_ALLOW_OPEN", "--allow-open"])
def test_a_keyed_local_or_explicitly_open_service_may_start(host: str, settings: Settings, allow_open: bool) -> None:
    assert open_bind_refusal(host, settings, allow_open=allow_open) is None


def test_serve_on_all_interfaces_without_a_key_exits_at_once_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIVEC_")}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "8999"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("serve: refusing to serve on 0.0.0.0"), done.stderr
    assert elapsed < 20  # decided before any store, model or server is started
