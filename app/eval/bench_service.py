"""`scripts/bench --service-load`: the service's peak memory while a corpus is loaded into it.

The service is started as `scripts/serve` starts it (`python -m app.launch app.cli serve`, embedded store
in a fresh data folder), the corpus is sent by `scripts/load`'s command in another process, and the
server process's peak resident memory is read from `/proc/<pid>/status` (`VmHWM`, Linux) before it is
stopped. Both processes run from this checkout with its interpreter, so nothing is installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident memory of process `pid` in MB (`VmHWM` of /proc/<pid>/status), None where unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float, log: Any, poll_s: float = 0.05) -> None:
    """Wait until `url`/health answers 200, asking every `poll_s` seconds.

    Raises:
        RuntimeError: the process exited first (the end of its log in the message), or `timeout_s` went by.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            said = log.read().decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"the service exited with {proc.returncode} before answering {url}/health: {said}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(poll_s)
    raise RuntimeError(f"the service did not answer {url}/health within {timeout_s:.0f} s")


def bench_service_load(dataset: Path, *, port: int = 8765, data_dir: Path | None = None, limit: int | None = None,
                       batch: int = 64, env: dict[str, str] | None = None, startup_s: float = 600.0) -> dict[str, Any]:
    """Serve an empty embedded store, load `dataset` into it through HTTP, report the server's peak RSS.

    Args:
        dataset: a BEIR folder or JSONL corpus (what `scripts/load` takes).
        port: loopback port for the service (must be free).
        data_dir: the store's folder (must not hold a store another process has open); default: a
            temporary folder, removed afterwards.
        limit: load at most this many documents (`scripts/load --limit`).
        env: extra environment for both processes (e.g. `MULTIVEC_SPACES` for another encoding mode).

    Returns:
        `documents` (points in the collection afterwards), `points_before` (a `data_dir` copy's),
        `seconds` of the load (startup excluded), `docs_per_s` (documents sent: `limit`, or the new points),
        `server_peak_rss_mb` (VmHWM: the whole life of the server, model loading included; None off
        Linux), `server_rss_after_start_mb` (VmHWM once it answered /health), and the `command`s run.

    Raises:
        RuntimeError: the service did not start, or the load exited non-zero (its exit code in the message).
    """
    tmp = None if data_dir is not None else tempfile.TemporaryDirectory(prefix="bench-service-")
    folder = Path(tmp.name) / "data" if tmp is not None else Path(data_dir)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}"
    child_env = {**os.environ, **(env or {}), "MULTIVEC_STORE__PATH": str(folder), "MULTIVEC_SERVICE_URL": url,
                 "MULTIVEC_LOG_LEVEL": "WARNING"}
    child_env.pop("MULTIVEC_STORE__URL", None)
    serve_cmd = [sys.executable, "-m", "app.launch", "app.cli", "serve", "--port", str(port)]
    load_cmd = [sys.executable, "-m", "app.launch", "app.cli", "load", str(dataset), "--url", url,
                "--batch", str(batch), *(["--limit", str(limit)] if limit else [])]
    # the server's stderr goes to a file: a pipe nobody reads would fill and block it
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(serve_cmd, env=child_env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_healthy(url, server, startup_s, log)
            started = vm_hwm_mb(server.pid)
            before = _count(url)  # a data_dir copy of an index already holds points
            t0 = time.perf_counter()
            loaded = subprocess.run(load_cmd, env=child_env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t0
            if loaded.returncode != 0:
                raise RuntimeError(f"the load exited with {loaded.returncode}: {loaded.stderr.strip()[-500:]}")
            peak = vm_hwm_mb(server.pid)
            count = _count(url)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if tmp is not None:
                tmp.cleanup()
    sent = min(limit, count) if limit else count - before
    return {"documents": count, "points_before": before, "seconds": seconds,
            "docs_per_s": sent / seconds if seconds > 0 else None,
            "server_peak_rss_mb": peak, "server_rss_after_start_mb": started,
            "command": {"serve": "python -m " + " ".join(serve_cmd[2:]),
                        "load": "python -m " + " ".join(load_cmd[2:])}}


def _count(url: str) -> int:
    """Points in the served collection, from /ready (its per-collection counts)."""
    import json

    with urllib.request.urlopen(f"{url}/ready", timeout=30) as r:
        body = json.loads(r.read())
    return int(max(body.get("collections", {}).values(), default=0))  # {collection: points}
