"""The shared-backbone encoding mode: its vectors against the separate passes, and the migration to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.container import build_services
from app.domain.documents import Document, prepare
from app.encoders.fastembed_encoder import EncoderPool, load_encoder
from app.encoders.shared import SharedEncoder
from app.errors import Conflict
from app.services.search import SearchRequest
from app.settings import SharedPassSettings, default_spaces
from app.versioning.declare import AddVersion, Migration, default_folder, load_folder
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import QUERIES, WIDE

TEXTS = [
    ("Statins and the risk of dementia",
     "Statins lower cholesterol. We followed 3,000 adults over sixty for ten years. Those taking statins had "
     "a lower incidence of dementia than those who did not, after adjustment for age, sex and blood pressure. "
     "The association held for Alzheimer's disease and for vascular dementia."),
    ("Sourdough fermentation",
     "A sourdough starter is a culture of wild yeast and lactic acid bacteria. The bacteria make the bread sour; "
     "the yeast makes it rise. A long, cold fermentation develops flavour and makes the crumb more open."),
    ("Leader election in Raft",
     "Raft elects a leader with randomised timeouts. A follower that hears nothing becomes a candidate and asks "
     "for votes; the candidate with a majority becomes leader and replicates its log to the others."),
]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shared_pass_vectors_are_close_to_the_separate_passes(encoders: EncoderPool) -> None:
    separate, shared = encoders.get("minilm-l6-int8"), encoders.get("minilm-l6-int8-shared")
    docs = [prepare(Document(id=str(i), title=t, body=b), chunk_words=30, max_chunks=32, max_entities=4)
            for i, (t, b) in enumerate(TEXTS)]
    rows = shared.embed_documents(docs, {"title", "document", "body", "summary", "entities"})  # type: ignore[attr-defined]
    titles, bodies = [], []
    for d, row in zip(docs, rows, strict=True):
        # aligned windows (the default): the document vector is the mean of every token's state; on a text
        # that fits one window that is the separate pass's mean without its [CLS] and [SEP] states
        assert _cos(row["document"], separate.embed(d.texts("document"))[0]) > 0.99
        titles.append(_cos(row["title"], separate.embed([d.doc.title])[0]))
        bodies += [_cos(a, b) for a, b in zip(row["body"], separate.embed(list(d.passages)), strict=True)]
        assert len(row["entities"]) == len(d.entities)
        assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in [row["title"], row["summary"], *row["body"]])
    # the title and passages are read in their context, so close to, not equal to, the text alone
    assert min(titles) > 0.6 and np.mean(titles) > 0.75, titles
    # (one-sentence passages here; on SciFact's 120-word passages the mean is 0.92)
    assert min(bodies) > 0.6 and np.mean(bodies) > 0.75, bodies
    assert _cos(shared.embed_query("raft leader"), separate.embed_query("raft leader")) > 0.999


def test_fixed_windows_as_wide_as_the_model_give_the_separate_document_vector(
        model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings("edge", model_cache, model_cache)
    fixed = settings.models["minilm-l6-int8-shared"].model_copy(
        update={"shared": SharedPassSettings(windows="fixed", window=256, overlap=32)})
    shared = load_encoder(fixed, settings.encoders)
    separate = load_encoder(settings.models["minilm-l6-int8"], settings.encoders)
    long_body = " ".join(f"Sentence {i} is about statins and dementia." for i in range(80))  # > 256 tokens
    docs = [prepare(Document(id=str(i), title=t, body=b), chunk_words=30, max_chunks=32, max_entities=4)
            for i, (t, b) in enumerate([*TEXTS, ("Long", long_body)])]
    inner = getattr(shared, "inner", shared)
    seqs: list[int] = []
    run = inner._run
    monkeypatch.setattr(inner, "_run", lambda s: (seqs.append(len(s)), run(s))[1])
    # the model itself, not the test memo (tests/conftest.py MemoEncoder): its windows are counted
    rows = inner.embed_documents(docs, {"document"})  # type: ignore[union-attr]
    assert seqs == [len(docs)]  # one window each: the first
    for d, row in zip(docs, rows, strict=True):
        # the first window, [CLS] and [SEP] included: what the separate pass computes (it truncates there)
        assert _cos(row["document"], separate.embed(d.texts("document"))[0]) > 0.999


SHARED_LIVE = {"title": "title.minilm-l6-int8-shared.v3", "body": "body.minilm-l6-int8-shared.v2",
               "summary": "summary.minilm-l6-int8-shared.v2",
               "entities": "entities.minilm-l6-int8-shared-mentions.v3",  # 0009: pooled from their mentions
               "document": "document.minilm-l6-int8-shared.v2",
               "keywords": "keywords.bm25-multilingual-scripts.v4"}  # 0010, 0011: numbers, Japanese alone; either mode


def test_the_migrations_to_the_shared_versions_apply_backfill_validate_and_promote(
        tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    # an install made before the shared defaults: all six spaces, every dense one on the separate pass
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("separate")),
                         encoders=encoders)
    try:
        svc.ingest.upsert(to_documents(DOCS))
        migrator = svc.migrator
        for m in load_folder(default_folder()):  # one chain: 0001 (title on L3), then the shared versions
            applied = migrator.apply(m)
            space = svc.registry.get().space(m.change.space)  # type: ignore[union-attr]
            if space.live == m.change.vector_name or "superseded" in " ".join(applied.notes):  # type: ignore[union-attr]
                continue  # keywords: a new install starts at 0011's v4 (in either mode), past 0002's v2 and 0010's v3
            migrator.backfill(m.revision)
            migrator.validate(m.revision, QUERIES)
            migrator.promote(m.revision, margin=WIDE)
        live = {s: svc.registry.get().space(s).live for s in SHARED_LIVE}
        assert live == SHARED_LIVE
        # 0001's title v2 was live, then 0006's v3 replaced it: every write still encodes v2 until it is retired,
        # and status says so rather than offering to promote it again
        v2, v3 = "title.paraphrase-minilm-l3.v2", SHARED_LIVE["title"]
        rows = {row["label"][:4]: (row["state"], row["next"]) for row in migrator.status()["migrations"]}
        assert rows["0001"] == (f"ready, below live {v3} (still written)", "retire (stops writing it)")
        assert v2 in {v.name for v in svc.registry.get().written_versions()}
        migrator.retire("0001", grace_s=0)
        assert v2 not in {v.name for v in svc.registry.get().written_versions()}
        assert svc.registry.get().space("title").live == v3
        # entities: 0007 made v2 (replacing v1), 0009 made v3 (replacing v2); retiring 0009's old version (v2)
        # leaves v1 written for nothing: 0007's row says so, and its retire ends it
        migrator.retire("0009", grace_s=0)
        e1 = "entities.minilm-l6-int8.v1"
        rows = {row["label"][:4]: (row["state"], row["next"]) for row in migrator.status()["migrations"]}
        assert rows["0007"] == (f"retired; {e1} still written", "retire (stops writing it)")
        assert e1 in {v.name for v in svc.registry.get().written_versions()}
        migrator.retire("0007", grace_s=0)
        written = {v.name for v in svc.registry.get().written_versions()}
        assert e1 not in written and SHARED_LIVE["entities"] in written
        assert {row["label"][:4]: row["state"] for row in migrator.status()["migrations"]}["0007"] == \
            "retired (replaced since)"
        for space, query, expected in (("document", "gene editing with CRISPR", "bio-1"),
                                       ("body", "planets around other stars", "astro-1")):
            hits = svc.search.search(SearchRequest(query=query, fields=[space], limit=1)).hits
            assert hits[0]["id"] == expected
    finally:
        svc.close()


def test_a_new_install_starts_where_the_shipped_migrations_end(tmp_path: Path, model_cache: Path,
                                                               encoders: EncoderPool) -> None:
    # a new install on the shared defaults (default_spaces("shared"))
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("shared")),
                         encoders=encoders)
    try:
        svc.ingest.upsert(to_documents(DOCS))
        assert {s: svc.registry.get().space(s).live for s in SHARED_LIVE} == SHARED_LIVE
        before = svc.store.vector_specs(svc.registry.physical())
        # the plan says which shipped migrations this install already holds: applying them only records them
        planned = {row["label"][:4]: (row["state"], row["next"])
                   for row in svc.migrator.plan(load_folder(default_folder())).data["migrations"]}
        record_only = "apply (records it: nothing to add, backfill or validate)"
        assert planned == {"0001": ("superseded", record_only), "0007": ("superseded", record_only),
                           "0002": ("superseded", record_only),  # keywords v2, below the v4 it started with
                           "0010": ("superseded", record_only),  # keywords v3, the same
                           "0008": ("pending", "apply"),
                           **{r: ("live in this install", record_only) for r in ("0003", "0004", "0005",
                                                                                 "0006", "0009", "0011")}}
        chain = [m for m in load_folder(default_folder()) if m.revision != "0008"]  # 0008: an optional space
        results = [svc.migrator.apply(m) for m in chain]
        # 0001 (title v2 on L3) is superseded by the title v3 this install started with; the others are live
        assert "superseded" in results[0].notes[0] and "title.minilm-l6-int8-shared.v3" in results[0].notes[0]
        assert "superseded" in results[1].notes[0] and "keywords.bm25-multilingual-scripts.v4" in results[1].notes[0]
        assert "already live in this install" in results[-1].notes[-1]  # 0011: no backfill to run next
        assert all(r.data["replaces"] is None for r in results)  # a version never replaces itself
        assert svc.store.vector_specs(svc.registry.physical()) == before  # nothing added
        # none of them made anything: a rollback of any (the latest by default) is refused and changes nothing (it
        # took keywords, body, document... out of search, and a retire then deleted the space: a break test)
        registry = svc.registry.get()
        for target in [None, *(m.revision for m in chain)]:
            with pytest.raises(Conflict, match=r"nothing to roll back: .* only recorded .*, which this install "
                                               r"started with .* would take space '.*' out of search"):
                svc.migrator.rollback(target)
        assert svc.registry.get() == registry
        # a record written before `started_with` was kept: told by the version, never changed since it was made
        latest = max(svc.migrator.records.applied())
        old = {k: v for k, v in svc.migrator.records.applied()[latest].items() if k != "started_with"}
        svc.migrator.records.record_applied(latest, old)
        with pytest.raises(Conflict, match="nothing to roll back"):
            svc.migrator.rollback()
        rows = svc.migrator.status()["migrations"]
        states = {row["label"][:4]: row["state"] for row in rows}
        assert states["0001"] == "superseded" and set(states) == {f"00{i:02}" for i in (*range(1, 8), 9, 10, 11)}
        # nothing left to do: never "retire" the version that is live
        assert {(row["state"], row["next"]) for row in rows} == {("superseded", "-"), ("done", "-")}
        assert svc.migrator.apply(chain[0]).actions == []  # again: nothing to do
        assert svc.migrator.backfill("0004").data["missing"] == 0
        # entities is rerank-only in a new install: a new version of it is too (no graph), as the dry run says
        v4 = Migration(revision="0099", name="entities_v4", depends_on=None,
                       change=AddVersion(space="entities", model="minilm-l6-int8-shared-mentions", version=4))
        actions = " ".join(svc.migrator.apply(v4, dry_run=True).actions)
        assert "entities.minilm-l6-int8-shared-mentions.v4 (multi, 384, cosine, rerank-only: no HNSW graph" in actions
        assert "rerank-only" not in " ".join(svc.migrator.apply(Migration(  # a space with a graph keeps one
            revision="0098", name="body_v3", depends_on=None,
            change=AddVersion(space="body", model="minilm-l6-int8-shared", version=3)), dry_run=True).actions)
    finally:
        svc.close()


def test_a_migration_numbered_below_a_version_a_migration_made_is_still_refused(
        tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("separate")),
                         encoders=encoders)
    try:
        chain = load_folder(default_folder())
        for m in chain[:2]:  # 0001 makes title v2
            svc.migrator.apply(m)
        late = Migration(revision="0099", name="late", depends_on=None,
                         change=AddVersion(space="title", model="minilm-l6-int8-shared", version=2))
        with pytest.raises(Conflict, match="numbered above"):
            svc.migrator.apply(late)
    finally:
        svc.close()


def _shared(model_cache: Path, **options: object) -> SharedEncoder:
    """The shared encoder with these pass settings (the defaults otherwise), unwrapped from the test memo."""
    settings = make_settings("edge", model_cache, model_cache)
    spec = settings.models["minilm-l6-int8-shared"]
    enc = load_encoder(spec.model_copy(update={"shared": SharedPassSettings(**options)}), settings.encoders)  # type: ignore[arg-type]
    return getattr(enc, "inner", enc)  # type: ignore[no-any-return]


def test_entities_batched_across_documents_equal_each_entity_encoded_alone(model_cache: Path) -> None:
    shared = _shared(model_cache, entity_mentions=False)
    docs = [prepare(Document(id=str(i), title=t, body=b), chunk_words=30, max_chunks=32, max_entities=4)
            for i, (t, b) in enumerate(TEXTS)]
    rows = shared.embed_documents(docs, {"entities"})
    for d, row in zip(docs, rows, strict=True):
        for entity, vec in zip(d.texts("entities"), row["entities"], strict=True):
            np.testing.assert_allclose(vec, shared.embed([entity])[0], atol=1e-5)


def test_entities_are_pooled_from_their_first_mention_and_the_others_encoded_alone(model_cache: Path) -> None:
    shared = _shared(model_cache, entity_mentions=True)
    title, body = TEXTS[0]
    doc = prepare(Document(id="d", title=title, body=body, entities=("Vascular Dementia", "HMG-CoA reductase")),
                  chunk_words=30, max_chunks=32, max_entities=4)
    [row] = shared.embed_documents([doc], {"entities", "body"})
    mention, absent = row["entities"]
    # "HMG-CoA reductase" is not in the text: the phrase alone, as the separate pass encodes it
    np.testing.assert_allclose(absent, shared.embed(["HMG-CoA reductase"])[0], atol=1e-5)
    # "Vascular Dementia" is found (case aside: the model is uncased) and read in its sentence: not the
    # phrase alone, and nearer its own passage
    alone = shared.embed(["Vascular Dementia"])[0]
    assert _cos(mention, alone) < 0.99
    last = row["body"][-1]  # the passage that mentions it
    assert _cos(mention, last) > _cos(alone, last)


def test_a_backfill_of_some_fields_runs_only_the_windows_holding_them(model_cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    long_body = " ".join(f"Sentence {i} is about statins, dementia and blood pressure." for i in range(120))
    docs = [prepare(Document(id="long", title="Statins", body=long_body, entities=("statins", "absent phrase")),
                    chunk_words=120, max_chunks=32, max_entities=4)]
    for mentions in (True, False):
        shared = _shared(model_cache, entity_mentions=mentions)
        windows: list[int] = []
        run = shared._run

        def counting(seqs, run=run, windows=windows):  # type: ignore[no-untyped-def]
            windows.append(sum(1 for s in seqs if len(s) > 30))  # windows, not the short entity phrases
            return run(seqs)

        monkeypatch.setattr(shared, "_run", counting)
        every = shared.embed_documents(docs, {"title", "document", "body", "summary", "entities"})[0]
        assert windows[0] > 4  # about 1,600 tokens: several windows
        # the title and the first mention of "statins" are in the first window; encoded alone, entities
        # need none (the document is every window's mean)
        for fields, most in (({"title"}, 1), ({"entities"}, 1 if mentions else 0), ({"title", "entities"}, 1)):
            windows.clear()
            row = shared.embed_documents(docs, fields)[0]
            assert sum(windows) <= most, (mentions, fields, windows)
            for f in fields:  # the same vectors as when every field is asked for
                np.testing.assert_array_equal(np.asarray(row[f]), np.asarray(every[f]))


def test_aliases_that_read_alike_run_one_pass_and_each_pools_entities_its_own_way(
        model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a store writes entities both ways (0007's alone, 0009's from mentions), `encode_documents`
    runs the windows once between the two aliases, and each version gets what its alias alone would make."""
    from app.domain.versions import VectorVersion
    from app.services.encoding import encode_documents

    alone, mentions = _shared(model_cache, entity_mentions=False), _shared(model_cache, entity_mentions=True)
    assert alone.pass_key == mentions.pass_key
    pool = {"a": alone, "m": mentions}

    class Pool:
        def get(self, alias: str) -> SharedEncoder:
            return pool[alias]

    versions = [VectorVersion(space=s, field=s, kind=k, model=m, version=v, dim=384)  # type: ignore[arg-type]
                for s, k, m, v in (("body", "multi", "a", 2), ("entities", "multi", "a", 2),
                                   ("entities", "multi", "m", 3), ("document", "dense", "m", 2))]
    docs = [prepare(Document(id=str(i), title=t, body=b), chunk_words=30, max_chunks=32, max_entities=4)
            for i, (t, b) in enumerate(TEXTS)]
    runs: list[int] = []
    for enc in (alone, mentions):
        run = enc._run

        def counting(seqs, run=run):  # type: ignore[no-untyped-def]
            runs.append(sum(1 for s in seqs if len(s) > 30))  # windows, not the short entity phrases
            return run(seqs)

        monkeypatch.setattr(enc, "_run", counting)
    rows = encode_documents(docs, versions, Pool())  # type: ignore[arg-type]
    assert sum(runs) == len(docs)  # one window per document (the texts are short), run once for both aliases
    for row, a, m in zip(rows, alone.embed_documents(docs, {"entities", "body"}),
                         mentions.embed_documents(docs, {"entities", "document"}), strict=True):
        np.testing.assert_allclose(np.stack(row[versions[1].name]), np.stack(a["entities"]), atol=1e-6)
        np.testing.assert_allclose(np.stack(row[versions[2].name]), np.stack(m["entities"]), atol=1e-6)
        np.testing.assert_allclose(np.stack(row[versions[0].name]), np.stack(a["body"]), atol=1e-6)
        np.testing.assert_allclose(row[versions[3].name], m["document"], atol=1e-6)
        assert not np.allclose(np.stack(a["entities"]), np.stack(m["entities"]), atol=1e-3)


def test_a_lower_numbered_or_renumbered_migration_is_refused_not_recorded(tmp_path: Path, model_cache: Path,
                                                                         encoders: EncoderPool) -> None:
    """Two break tests on an install past the shipped migrations. A migration numbered below a version another
    migration made was recorded as superseded (the docs say refused); a different file reusing an applied
    revision was "nothing to do" in `apply` and shown with the other one's state in `plan`, and never ran."""
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("shared")),
                         encoders=encoders)
    try:
        svc.ingest.upsert(to_documents(DOCS))
        shipped, last = [], None  # an operator's own folder: the shipped files not applied to this store
        v4 = Migration(revision="0012", name="title_l3", change=AddVersion(space="title", model="paraphrase-minilm-l3",
                                                                           version=4), depends_on=last)
        svc.migrator.apply(v4)  # title v4, a shadow this migration made
        low = Migration(revision="0013", name="title_v1", change=AddVersion(space="title", model="paraphrase-minilm-l3",
                                                                            version=1), depends_on="0012")
        with pytest.raises(Conflict, match="already has version v4: a new version must be numbered above it"):
            svc.migrator.apply(low)
        planned = {r["label"]: r for r in svc.migrator.plan([v4, low]).data["migrations"]}  # the row as the note
        assert planned["0013_title_v1"]["state"] == "refused (see the note)", planned
        assert "0013" not in svc.migrator.records.applied()
        other = Migration(revision="0012", name="summary_l3", change=AddVersion(
            space="summary", model="paraphrase-minilm-l3", version=3), depends_on=last)
        rows = {r["label"]: r for r in svc.migrator.plan([*shipped, other]).data["migrations"]}
        assert rows["0012_summary_l3"]["state"] == "refused: revision 0012 is applied as 0012_title_l3"
        with pytest.raises(Conflict, match="revision 0012 is already applied with another change"):
            svc.migrator.apply(other)
    finally:
        svc.close()


def test_a_migration_that_made_nothing_is_not_retired_once_a_later_one_replaced_its_version(
        tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    """On a new install, 0001 (superseded by title v3) and 0006 (title v3, live in this install) only recorded v3.
    Once a later migration replaced v3, retiring either would delete v3, the rollback target of the one that
    replaced it (a break test): refused, and their rows say the later migration's retire is the way."""
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("shared")),
                         encoders=encoders)
    try:
        svc.ingest.upsert(to_documents(DOCS))
        for m in (m for m in load_folder(default_folder()) if m.revision != "0008"):
            svc.migrator.apply(m)
        latest = max(svc.migrator.records.applied())
        v4 = Migration(revision="0012", name="title_l3", depends_on=latest,
                       change=AddVersion(space="title", model="paraphrase-minilm-l3", version=4))
        svc.migrator.apply(v4)
        svc.migrator.backfill("0012")
        svc.migrator.promote("0012", force=True)
        v3 = "title.minilm-l6-int8-shared.v3"
        for recorded_only in ("0001", "0006"):
            with pytest.raises(Conflict, match=f"{recorded_only}_.* only recorded {v3}: "
                                               "retire the migration that replaced it instead"):
                svc.migrator.retire(recorded_only, grace_s=0, force=True)
        assert svc.registry.get().space("title").versions[v3].status == "ready"
        rows = {row["label"][:4]: (row["state"], row["next"]) for row in svc.migrator.status()["migrations"]}
        assert rows["0006"] == ("ready, replaced by title.paraphrase-minilm-l3.v4",
                                "- (retire the migration that replaced it)")
        assert rows["0012"][1] == f"retire {v3} (after the grace period)"
    finally:
        svc.close()


def test_a_bare_rollback_after_promoting_a_new_space_rolls_that_one_back(tmp_path: Path, model_cache: Path,
                                                                        encoders: EncoderPool) -> None:
    """On a new install the latest applied migration (0011) only recorded keywords v4, so a bare rollback picked
    it and was refused, though the operator had just promoted 0008 (a break test): it now takes the migration
    whose version went live last, and a rollback that ends another version's rollout says so."""
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=default_spaces("shared")),
                         encoders=encoders)
    try:
        svc.ingest.upsert(to_documents(DOCS))
        for m in load_folder(default_folder()):
            svc.migrator.apply(m)
        svc.migrator.backfill("0008")
        svc.migrator.promote("0008", force=True)
        assert svc.registry.get().space("splade").live == "splade.splade-tiny.v1"
        done = svc.migrator.rollback()
        assert done.changed and done.target == "splade.splade-tiny.v1"
        assert svc.registry.get().space("splade").live is None
        # and a bare retire then abandons that migration (it said keywords v4 "made a new space": a break test)
        gone = svc.migrator.retire(grace_s=0)
        assert gone.target == "splade.splade-tiny.v1" and svc.registry.get().space("splade").versions[
            "splade.splade-tiny.v1"].status == "retired"
    finally:
        svc.close()
