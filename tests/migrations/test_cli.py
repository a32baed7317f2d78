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
        assert "in use by pid" in message and "scripts/migrate --url http://127.0.0.1:8000 status" in message
    finally:
        svc.close()


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
    assert "overrides (--force)" in shown
    [override] = [line for line in shown.splitlines() if "forced at" in line]
    assert "0001_title_paraphrase_l3: promote title.paraphrase-minilm-l3.v2" in override
    assert "past: validation: space nDCG@10 changes by -" in override
    assert main(["retire"]) == 2 and "grace period not over" in capsys.readouterr().err
    assert main(["retire", "--grace", "0s"]) == 0
    assert "did: delete named vector title.minilm-l6-int8.v1" in capsys.readouterr().out


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
