"""A backfill and a rebuild honour a document's `"entities": []`: no entities derived, no vector, yet covered."""

from __future__ import annotations

from pathlib import Path

from app.container import build_services
from app.domain.documents import Document, point_id
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import default_spaces
from app.versioning.declare import AddVersion, Migration, Rebuild
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS

ENTITIES_V2 = Migration(revision="0002", name="entities_shared", change=AddVersion(
    space="entities", model="minilm-l6-int8-shared-mentions", version=9))
REBUILD = Migration(revision="0003", name="entities_again", depends_on="0002",
                    change=Rebuild(reembed=("entities",), reason="re-encode the entities"))
TEXT = {"title": "Quokka colonies on Rottnest Island", "body": "The quokka is a small marsupial near Perth."}


def test_backfill_and_rebuild_keep_an_empty_entities_list(tmp_path: Path, model_cache: Path,
                                                          encoders: EncoderPool) -> None:
    svc = build_services(make_settings("memory", tmp_path, model_cache, spaces=default_spaces("separate")),
                         encoders=encoders)
    try:
        svc.ingest.upsert([*to_documents(DOCS[:4]), Document.from_dict({"id": "none", **TEXT, "entities": []}),
                           Document(id="punct", title="", body="!!! ??? ...")])
        m = svc.migrator
        m.apply(ENTITIES_V2)
        done = m.backfill("0002")
        assert done.data["complete"], done.data
        name = ENTITIES_V2.change.vector_name  # type: ignore[union-attr]
        physical = svc.registry.physical()
        points = {p.payload["doc_id"]: p for p in svc.store.retrieve(
            physical, [point_id(i) for i in ("none", "punct", DOCS[0]["id"])], with_vectors=True)}
        for doc_id in ("none", "punct"):
            assert name in points[doc_id].payload["vector_versions"] and name not in points[doc_id].vectors
            assert points[doc_id].payload["entities"] == []
        assert name in points[DOCS[0]["id"]].vectors

        target = m.apply(REBUILD).data["target"]
        assert m.backfill("0003").data["complete"]
        target = svc.store.retrieve(target, [point_id("none")], with_vectors=True)[0]
        assert target.payload["entities"] == [] and not any(n.startswith("entities.") for n in target.vectors)
        assert svc.ingest.get("none")["derived"]["entities"] is False
    finally:
        svc.close()
