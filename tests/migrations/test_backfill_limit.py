"""`--max-points N` stops a backfill after N points, directly, through the admin API and through
`scripts/migrate --url` alike, and says how many remain and how to continue."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.versioning.cli import Remote, main
from app.versioning.declare import Migration, Rebuild
from app.versioning.dispatch import run_step
from app.versioning.engine import Migrator
from tests.migrations.conftest import NEW

TOKEN = "operator-secret"


def covered(migrator: Migrator) -> int:
    return migrator.coverage(NEW).covered


def test_max_points_bounds_every_way_of_backfilling(corpus: Services, migrator: Migrator, migration: Migration,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    migrator.apply(migration)
    dry = migrator.backfill(max_points=3, dry_run=True)
    assert any("encode 3 of 11 points" in a for a in dry.actions) and covered(migrator) == 0
    assert not any("ready" in a for a in dry.actions)  # the real run with this limit would not finish
    # a dry run did nothing: it says what the real run would leave, in the conditional
    assert any("would stop after 3 points" in n and "8 of 11 points would still lack" in n and "dry run" in n
               for n in dry.notes), dry.notes

    settings = corpus.settings.model_copy(update={"admin_token": TOKEN})
    with TestClient(create_app(settings, services=corpus)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        # scripts/migrate --url: slices of batch*8 = 16 points; the limit is the run's, not a slice's
        backend = Remote("http://testserver", None, client=client)
        assert main(["--url", "http://testserver", "backfill", "--max-points", "3", "--batch", "2",
                     "--progress", "none"], backend=backend) == 0
        out = capsys.readouterr().out
        assert covered(migrator) == 3
        assert "backfilled 3 points through http://testserver" in out
        assert "stopped after 3 points (--max-points): 8 of 11 points still lack" in out
        assert "scripts/migrate backfill 0001" in out and "ready" not in out
        # --max-points 0 is refused, nothing backfilled: an argument error (exit 2) before any request, on the
        # direct path and through the service alike (ops21 F11: it was the service's 422, exit 1)
        with pytest.raises(SystemExit) as refused:
            main(["--url", "http://testserver", "backfill", "--max-points", "0", "--progress", "none"],
                 backend=backend)
        assert refused.value.code == 2
        assert "argument --max-points: expected a whole number >= 1, not 0" in capsys.readouterr().err
        assert covered(migrator) == 3

        # the admin API: the same limit, the same note
        r = client.post("/admin/migrations/backfill", json={"max_points": 2, "batch": 1})
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["data"]["done"] == 2 and data["data"]["remaining"] == 6 and not data["data"]["complete"]
        assert any("stopped after 2 points (--max-points): 6 of 11" in n for n in data["notes"])
        assert covered(migrator) == 5

    # the direct path (what scripts/migrate runs without a service): run_step, as `Local.step` does
    out2 = run_step(migrator, "backfill", {"max_points": 4, "batch": 3})
    assert out2["data"]["done"] == 4 and covered(migrator) == 9
    assert any("stopped after 4 points (--max-points): 2 of 11 points still lack" in line for line in out2["text"])
    run_step(migrator, "backfill", {})
    assert covered(migrator) == 11


REBUILD = Migration(revision="0002", name="title_dot", change=Rebuild(distance={"title": "dot"}, reembed=()),
                    depends_on="0001")


def test_max_points_bounds_a_rebuild_fill_too(migrator: Migrator, migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()
    migrator.apply(REBUILD)
    target = (migrator.registry.rebuild() or {})["target"]
    dry = migrator.backfill(max_points=3, batch=256, dry_run=True)
    assert any(a.startswith("copy 3 of 11 points") for a in dry.actions)
    assert not any("filled" in a for a in dry.actions)
    assert any("would stop after 3 points" in n and "8 of 11 points would still lack" in n for n in dry.notes)
    done = migrator.backfill(max_points=3, batch=256)  # a batch larger than the limit stops at the limit
    assert done.data["done"] == 3 and migrator.store.count(target) == 3
    assert any("stopped after 3 points (--max-points): 8 of 11 points still lack" in n for n in done.notes)
    assert migrator.backfill().data["complete"] and migrator.store.count(target) == 11
