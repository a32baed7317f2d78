"""Cascade plans as data: how build_plan splits stages, the cascade math, named plans from settings."""

from __future__ import annotations

import pytest

from app.domain.cascade import CANDIDATES, FINAL, cascade_stages, first_stage, rerank_contributions
from app.domain.fusion import dbsf, dbsf_normalize
from app.domain.plan import Filter, build_plan
from app.domain.versions import IndexKind, Registry, VectorVersion
from app.errors import InvalidInput, UnknownPlan, UnknownSpace
from app.services.plans import plan_names, plan_request, requestable_plans
from app.settings import PlanSettings, SearchSettings, Settings

SPACES = {"title": "dense", "body": "multi", "entities": "multi", "document": "dense", "keywords": "sparse"}


def registry(rerank_only: tuple[str, ...] = ()) -> Registry:
    reg = Registry(spaces={})
    for name, kind in SPACES.items():
        index: IndexKind = "rerank" if name in rerank_only else "hnsw"
        v = VectorVersion(space=name, field=name, kind=kind, model="m", version=1,  # type: ignore[arg-type]
                          dim=None if kind == "sparse" else 4, status="live", index=index)
        reg = reg.with_version(v).with_live(name, v.name, None)
    return reg


def plan(reg: Registry | None = None, **kw: object):  # type: ignore[no-untyped-def]
    args: dict = {"fields": None, "fusion": "dbsf", "rrf_k": 60, "weights": {}, "limit": 10,
                  "prefetch_limit": 100, "filter": Filter()} | kw
    return build_plan(reg or registry(), **args)


def test_rerank_spaces_leave_stage_one_and_rescore_its_candidates() -> None:
    p = plan(fields=["document", "keywords", "body"], weights={"keywords": 1.5}, rerank=["body"], candidates=50)
    assert [s.space for s in p.spaces] == ["document", "keywords"] and [s.space for s in p.rerank] == ["body"]
    assert p.cascade and not p.formula and p.candidates == 50
    assert [s["stage"] for s in p.stages()] == ["candidates", "rerank", "final"]
    assert plan(rerank=["body", "entities"]).formula  # two rerank spaces: combined by the formula
    assert plan(rerank=["body"], candidates_weight=0.5).formula
    raised = plan(candidates=5, limit=20, rerank=["body"])
    assert raised.candidates == 20  # never fewer than the hits asked for, and explain's notes say so
    assert "candidates 5 raised to the limit, 20" in raised.notes[-1]
    assert not any("raised" in n for n in plan(candidates=50, limit=20, rerank=["body"]).notes)
    assert not plan(rerank=[]).cascade and plan(rerank=[]).candidates == 0


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"rerank": ["nope"]}, UnknownSpace, "nope"),
    ({"rerank": ["body", "body"]}, InvalidInput, "rerank lists a space twice"),
    ({"rerank": ["body"], "candidates": 0}, InvalidInput, "candidates 0 is outside 1..1000"),
    ({"rerank": ["body"], "candidates": 2000}, InvalidInput, "candidates 2000 is outside"),
    ({"rerank": ["body"], "candidates_weight": -1.0}, InvalidInput, "weight of 'candidates' is negative"),
    ({"rerank": ["body"], "weights": {"body": float("nan")}}, InvalidInput, "weight of 'body' is nan"),
    ({"fields": ["body"], "rerank": ["body"]}, InvalidInput, "no space left to find candidates"),
    # zeroing every candidate space used to fall back to the default first stage without a word
    ({"fields": ["document", "keywords"], "weights": {"document": 0.0, "keywords": 0.0}, "rerank": ["body"]},
     InvalidInput, r"zero for every space that finds the candidates to rescore \(document, keywords\)"),
])
def test_bad_cascades_are_refused_naming_what(kw: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        plan(**kw)


def test_a_rerank_only_space_is_never_searched_on_its_own() -> None:
    reg = registry(rerank_only=("body", "entities"))
    fused = plan(reg, fields=["document", "body", "keywords"], weights={"keywords": 1.5})
    assert [s.space for s in fused.spaces] == ["document", "keywords"] and [s.space for s in fused.rerank] == ["body"]
    assert fused.candidates_weight == 2.5 and fused.formula  # stage 1 keeps the weight it had in the fusion
    assert "body is rerank-only" in fused.notes[0]
    alone = plan(reg, fields=["entities"], first_stage={"document": 1.0, "body": 1.0, "keywords": 1.5})
    assert [(s.space, s.weight) for s in alone.spaces] == [("document", 1.0), ("keywords", 1.5)]
    assert [s.space for s in alone.rerank] == ["entities"] and not alone.formula
    assert alone.notes[-1] == "candidates from the default first stage: document, keywords"
    # weighted 0 (only to be explained), a rerank-only space is not searched at all
    observed = plan(reg, weights={"entities": 0.0, "body": 0.0}, explain=True)
    assert {s.space for s in observed.listed} == {"title", "document", "keywords"} and not observed.cascade
    # explain shows it by scoring the hits (no own list): its query vector is needed, it adds nothing
    assert [s.space for s in observed.scored] == ["body", "entities"] and observed.describe("client")[
        "scored_only"] == ["body", "entities"]
    assert {s.space for s in observed.all_spaces} == set(SPACES)
    assert "explain shows its exact score" in observed.notes[-1]
    assert plan(reg, weights={"entities": 0.0, "body": 0.0}).scored == ()  # without explain: nothing to show


def test_the_stages_from_each_space_s_own_scores() -> None:
    p = plan(fields=["document", "keywords"], weights={"keywords": 2.0}, rerank=["body"], candidates=3,
             candidates_weight=1.0, limit=3)
    lists = {"document": [("a", 0.9), ("b", 0.8), ("c", 0.5), ("d", 0.1)], "keywords": [("c", 9.0), ("e", 4.0)]}
    body = {"a": 0.2, "b": 0.9, "c": 0.4, "d": 0.99, "e": 0.5}
    stages = cascade_stages(p, lists, {"body": body})
    # the sparse `keywords` list is normalised as complete: the 4 points `document` lists, 2 of them at 0
    fused = dbsf([lists["document"], lists["keywords"]], weights=[1.0, 2.0], depths=[0, 4])
    assert stages[CANDIDATES] == fused[:3] == first_stage(p, lists)
    assert fused != dbsf([lists["document"], lists["keywords"]], weights=[1.0, 2.0])
    assert [pid for pid, _ in stages["body"]] == sorted((pid for pid, _ in fused[:3]), key=lambda x: -body[x])
    norm_c, norm_b = dict(dbsf_normalize(stages[CANDIDATES])), dict(dbsf_normalize(stages["body"]))
    assert dict(stages[FINAL]) == pytest.approx({pid: norm_c[pid] + norm_b[pid] for pid in norm_c})
    # a candidate without the rerank vector drops out of that stage, and adds 0 there in the formula
    lacking = cascade_stages(p, lists, {"body": {k: v for k, v in body.items() if k != "c"}})
    assert "c" not in dict(lacking["body"]) and "c" in dict(lacking[FINAL])


def test_a_bounded_rerank_space_lowers_a_candidate_at_most_the_bound_below_its_stage_one_standing() -> None:
    # `r` holds the rare query word: stage 1 puts it far ahead; `body`'s passages sit far from the other words
    ids = [f"p{i:02d}" for i in range(60)]
    lists = {"document": [(p, 0.6 - i / 200) for i, p in enumerate(ids)] + [("r", 0.4)],
             "keywords": [("r", 12.0)] + [(p, 3.0 - i / 30) for i, p in enumerate(ids)]}
    body = {p: 0.6 - i / 300 for i, p in enumerate(ids)} | {"r": 0.1}
    unbounded = plan(fields=["document", "keywords"], weights={"keywords": 1.5}, rerank=["body"], candidates=61,
                     candidates_weight=1.0, limit=3)
    bounded = plan(fields=["document", "keywords"], weights={"keywords": 1.5}, rerank=["body"], candidates=61,
                   candidates_weight=1.0, limit=3, max_demotion=0.7)
    assert unbounded.max_demotion is None and bounded.max_demotion == 0.7
    free, kept = cascade_stages(unbounded, lists, {"body": body}), cascade_stages(bounded, lists, {"body": body})
    assert free[CANDIDATES][0][0] == kept[CANDIDATES][0][0] == "r"
    assert [pid for pid, _ in free[FINAL]].index("r") > 10  # unbounded, body pulls it out of the top 10
    assert kept[FINAL][0][0] == "r"
    norm_c, norm_b = dict(dbsf_normalize(kept[CANDIDATES])), dict(dbsf_normalize(kept["body"]))
    assert dict(kept[FINAL]) == pytest.approx({p: norm_c[p] + max(norm_b[p], norm_c[p] - 0.7) for p in norm_c})
    # explain's contribution of body is the bounded term the final score summed
    entry = rerank_contributions(bounded, kept, ["r"])["r"]["body"]
    assert entry["contribution"] == pytest.approx(norm_c["r"] - 0.7) and norm_c["r"] - 0.7 > norm_b["r"]
    # a candidate without the rerank vector counts 0 there, then the bound
    lacking = cascade_stages(bounded, lists, {"body": {k: v for k, v in body.items() if k != "r"}})
    assert dict(lacking[FINAL])["r"] == pytest.approx(norm_c["r"] + max(0.0, norm_c["r"] - 0.7))
    final = next(s for s in bounded.stages() if s["stage"] == "final")
    assert final["formula"] == "1*norm(candidates) + 1*max(norm(body), norm(candidates) - 0.7)"
    assert plan_request(SearchSettings()).max_demotion == 0.7  # the default plan bounds body


def test_named_plans_from_settings() -> None:
    s = SearchSettings()
    assert plan_names(s) == ["all", "cascade", "dense", "fused", "keyword"]
    assert plan_request(s).name == s.plan == "cascade"  # the default plan
    fused = plan_request(s, "fused")
    assert fused.name == "fused" and fused.weights == s.weights and fused.rerank == []
    cascade = plan_request(s, "cascade")
    assert cascade.fields == ["document", "keywords"] and cascade.rerank == ["body"]
    with pytest.raises(UnknownPlan, match="unknown plan 'nope'") as err:
        plan_request(s, "nope")
    assert err.value.detail["known"] == requestable_plans(s) == [*plan_names(s), "auto"]
    assert "'auto'" in err.value.message
    own = SearchSettings(plan="mine", plans={"mine": PlanSettings(fields=["keywords"], rerank=["document"])})
    assert plan_request(own).rerank == ["document"] and plan_names(own) == ["fused", "mine"]
    with pytest.raises(ValueError, match=r"search\.plan 'nope' is not a plan"):
        SearchSettings(plan="nope")
    with pytest.raises(ValueError, match=r"search.plans.bad names unknown spaces \['nope'\]"):
        Settings(search=SearchSettings(plans={"bad": PlanSettings(rerank=["nope"])}))


def test_auto_is_no_plan_name_settings_may_take_and_the_schema_names_every_built_in_plan() -> None:
    from app.api.schemas import SearchIn
    from app.search_settings import AUTO, builtin_plans

    with pytest.raises(ValueError, match="'auto'"):
        SearchSettings(plans={"auto": PlanSettings()})
    described = SearchIn.model_fields["plan"].description or ""
    assert all(f"`{name}`" in described for name in [*builtin_plans(), "fused"]) and f'"{AUTO}"' in described


def test_the_registry_names_the_spaces_a_fused_search_finds_candidates_in() -> None:
    reg = registry(rerank_only=("body", "entities"))
    assert reg.indexed(list(SPACES)) == ["title", "document", "keywords"]
    assert reg.indexed(["entities", "title"]) == ["title"]
    assert reg.indexed(["body"], {"body": reg.live_version("body").name}) == []  # the pinned version's index


def test_a_nested_cascade_whose_stage_one_fuses_a_sparse_space_by_dbsf_runs_staged_and_says_so() -> None:
    sparse = plan(fields=["document", "keywords"], rerank=["body"], staged=False)
    assert sparse.staged and "staged, not nested: stage 1 fuses a sparse space" in sparse.notes[-1]
    dense = plan(fields=["document", "title"], rerank=["body"], staged=False)  # the engine fuses it: nested stays
    rrf = plan(fields=["document", "keywords"], rerank=["body"], staged=False, fusion="rrf")
    assert not dense.staged and not rrf.staged and not any("staged" in n for n in dense.notes + rrf.notes)
