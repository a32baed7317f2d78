"""`scripts/migrate` as an operator runs it on the embedded store: locked folder, plan, status, validate."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import Settings
from app.versioning.cli import main
from tests.migrations.conftest import NEW, QUERIES


def assert_aligned(lines: list[str]) -> None:
    """Every table (a header, a row of dashes, rows) keeps each column at the header's offsets."""
    tables = 0
    for i, line in enumerate(lines):
        if not re.fullmatch(r"\s*-+(  -+)*", line) or i == 0:
            continue
        tables += 1
        starts = [m.start() for m in re.finditer(r"-+", line)]
        header = lines[i - 1]
        assert [header[s - 1] if s else " " for s in starts] == [" "] * len(starts), header
        for row in lines[i + 1:]:
            if not row.strip():
                break
            gaps = [row[s - 2:s] for s in starts[1:] if len(row) > s]
            assert all(g == "  " for g in gaps), (row, line)
    assert tables, "no table in the output"


@pytest.fixture
def settings(cli_settings: Settings) -> Settings:
    return cli_settings


def test_a_locked_data_folder_tells_the_operator_to_use_url(settings: Settings, encoders: EncoderPool) -> None:
    svc = build_services(settings, encoders=encoders)  # the running service holds the folder
    try:
        with pytest.raises(SystemExit) as exc:
            main(["status"])
        message = str(exc.value)
        # this holder recorded no URL: a placeholder saying what goes there, never a guessed port
        assert "in use by pid" in message and "scripts/migrate --url URL status" in message
        assert "URL: the service's URL, e.g. http://127.0.0.1:PORT" in message and ":8000" not in message
    finally:
        svc.close()


def test_every_hint_names_the_url_of_the_service_holding_the_folder(settings: Settings) -> None:
    """`scripts/serve` records where it listens beside its folder lock; migrate, backup and load --direct,
    refused the folder, tell the operator to go through that URL (here not the default port)."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "MULTIVEC_CALLER_DIR": str(root)}
    serve = subprocess.Popen([sys.executable, "-m", "app.launch", "app.cli", "serve", "--port", str(port)],
                             cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until it answers (models load first); a crash ends the wait
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"scripts/serve did not answer on {url}")
        corpus = settings.store.path.parent / "corpus.jsonl"
        corpus.write_text('{"id": "a", "title": "t", "body": "b"}\n')
        for args, command in [(["app.versioning.cli", "status"], f"scripts/migrate --url {url} status"),
                              (["app.backup_cli", "backup"], f"scripts/backup --url {url} ..."),
                              (["app.cli", "load", "--direct", str(corpus)], f"scripts/load --url {url} ...")]:
            done = subprocess.run([sys.executable, "-m", "app.launch", *args], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode != 0 and command in done.stderr, done.stderr
            assert f"(the service at {url})" in done.stderr and "Traceback" not in done.stderr
    finally:
        serve.terminate()
        serve.wait(timeout=60)


def test_operator_flow_reads_well(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert_aligned(out)
    assert any("0001_title_paraphrase_l3" in line and "pending" in line for line in out)

    assert main(["apply", "0001", "--dry-run"]) == 0  # 0001 only: 0002- need the document space
    assert "would: add named vector title.paraphrase-minilm-l3.v2" in capsys.readouterr().out
    assert main(["apply", "0001"]) == 0 and "did: register" in capsys.readouterr().out
    assert main(["apply", "0001"]) == 0 and "nothing to do" in capsys.readouterr().out

    assert main(["promote"]) == 2  # refused: coverage 0 %, no validation
    assert "promote title.paraphrase-minilm-l3.v2 refused: coverage is 0/11" in capsys.readouterr().err

    assert main(["backfill", "--batch", "4", "--progress", "lines"]) == 0
    text = capsys.readouterr().out
    assert "backfill: 11/11 (100.0 %)" in text and "docs/s" in text
    assert "mark title.paraphrase-minilm-l3.v2 ready" in text

    assert main(["status"]) == 0
    status = capsys.readouterr().out.splitlines()
    assert_aligned(status)
    [row] = [line for line in status if NEW in line]
    assert "ready" in row and "11/11" in row and "100.0 %" in row

    canary = tmp_path / "canary.jsonl"
    canary.write_text("\n".join(json.dumps({"id": q, "query": t, "relevant": list(QUERIES.qrels[q])})
                                for q, t in QUERIES.queries))
    reports = tmp_path / "reports"
    assert main(["validate", "--queries", str(canary), "--out", str(reports)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert_aligned(out)
    assert any(line.split()[:2] == ["fused", "ndcg@10"] for line in out)
    [md] = reports.glob("*.md")
    [js] = reports.glob("*.json")
    assert "| fused | ndcg@10 |" in md.read_text() and json.loads(js.read_text())["judged"] == 4

    # titles alone lose more than the margin on these queries: refused, though the fused default does not
    assert main(["promote"]) == 2
    assert "validation: space nDCG@10 changes by -" in capsys.readouterr().err
    assert main(["promote", "--force", "--dry-run"]) == 0 and "would: make" in capsys.readouterr().out
    assert main(["promote", "--force"]) == 0
    forced = capsys.readouterr().out
    assert "did: make title.paraphrase-minilm-l3.v2 live" in forced and "forced past: validation: space" in forced
    assert main(["status"]) == 0  # the override stays on record with the migration
    shown = capsys.readouterr().out
    assert "overrides (--force, --grace, --margin)" in shown
    [override] = [line for line in shown.splitlines() if "forced past" in line]
    assert "0001_title_paraphrase_l3: promote title.paraphrase-minilm-l3.v2" in override
    assert "past: validation: space nDCG@10 changes by -" in override
    assert main(["retire"]) == 2 and "grace period not over" in capsys.readouterr().err
    assert main(["retire", "--grace", "0s"]) == 0
    retired = capsys.readouterr().out
    assert "did: delete named vector title.minilm-l6-int8.v1" in retired
    # a grace below the default is on record too (it deleted a version a second after its promote with nothing on
    # record: a break test)
    assert "did: record the override in 0001's record: retire with a looser gate (grace 0 s, below" in retired
    assert main(["status"]) == 0
    [loosened] = [line for line in capsys.readouterr().out.splitlines() if "gate loosened" in line]
    assert "0001_title_paraphrase_l3: retire title.minilm-l6-int8.v1" in loosened and "grace 0 s" in loosened


def test_the_service_url_comes_from_the_environment(settings: Settings, encoders: EncoderPool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    svc = build_services(settings, encoders=encoders)  # the running service holds the folder
    try:
        with pytest.raises(SystemExit) as exc:
            main(["status"])
        assert "set MULTIVEC_SERVICE_URL" in str(exc.value)  # the hint says how not to type --url each time
        with socket.socket() as s:  # a loopback port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("MULTIVEC_SERVICE_URL", f"http://127.0.0.1:{port}")
        with pytest.raises(SystemExit) as exc:
            main(["status"])  # no --url: through the service the environment names, not the locked folder
        assert str(exc.value).startswith(f"cannot reach the service at http://127.0.0.1:{port}")
        with pytest.raises(SystemExit) as exc:
            main(["--url", "http://127.0.0.1:1", "status"])  # --url wins over the environment
        assert str(exc.value).startswith("cannot reach the service at http://127.0.0.1:1")
    finally:
        svc.close()


def test_apply_refuses_another_file_reusing_an_applied_revision(settings: Settings, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A folder whose 0001 is another change than the 0001 applied (two branches each adding a 0001): `apply` said
    "nothing to do" and exited 0, and the file never ran (a break test). Now it is refused, naming both."""
    assert main(["apply"]) == 0
    capsys.readouterr()
    folder = tmp_path / "migrations"
    (folder / "0001_title_paraphrase_l3.py").unlink()
    (folder / "0001_summary_l3.py").write_text('from app.versioning.declare import AddVersion\nrevision = "0001"\n'
                                                'change = AddVersion(space="summary", model="paraphrase-minilm-l3", '
                                                'version=2)\n')
    assert main(["apply"]) == 2
    err = capsys.readouterr().err
    assert "revision 0001 is already applied with another change" in err and "give this one the next revision" in err
    assert main(["plan"]) == 0
    assert "refused: revision 0001 is applied as 0001_title_paraphrase_l3" in capsys.readouterr().out
    # the applied file itself edited since, under its own name: refused too (it was "nothing to do", exit 0)
    (folder / "0001_summary_l3.py").unlink()
    (folder / "0001_title_paraphrase_l3.py").write_text(
        'from app.versioning.declare import AddVersion\nrevision = "0001"\n'
        'change = AddVersion(space="title", model="paraphrase-minilm-l3", version=7)\n')
    assert main(["apply"]) == 2 and "revision 0001 is already applied with another change" in capsys.readouterr().err
