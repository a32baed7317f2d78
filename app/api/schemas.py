"""Request and response schemas. Structural checks live here; limits from settings in `limits.py`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from pydantic.json_schema import JsonDict

from app.domain.bounds import INT64_MAX, INT64_MIN
from app.domain.filters import MAX_FILTER_KEY_CHARS
from app.domain.plan import FILTER_KEY, MAX_RRF_K, MAX_WEIGHT, MIN_WEIGHT
from app.domain.versions import MAX_NAME_CHARS
from app.versioning.shape import Integer


# What app.domain.plan / app.domain.bounds refuse inside `weights` and `filter` (with a 422 naming the key),
# declared here for the OpenAPI document: Litestar's schema generator does not reach into dict keys and values.
def filter_values_schema(max_chars: int | None = None, max_values: int | None = None) -> JsonDict:
    """The schema of a filter's values: a string (at most `max_chars`), a signed 64-bit integer, a boolean, or a
    list of 1 to `max_values` of them; the limits are settings, so `app.api.openapi` declares them."""
    string: JsonDict = {"type": "string", **({"maxLength": max_chars} if max_chars is not None else {})}
    integer: JsonDict = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}
    bounds: JsonDict = {"minItems": 1, **({"maxItems": max_values} if max_values is not None else {})}
    # a list matches any of its values: all strings or all integers (app.domain.filters), never booleans
    lists: list[JsonValue] = [{"type": "array", "items": item, **bounds} for item in (string, integer)]
    return {"oneOf": [string, integer, {"type": "boolean"}, *lists]}


# a weight is 0 or from MIN_WEIGHT to MAX_WEIGHT (one above 0 but below MIN_WEIGHT would change no ranking)
WEIGHTS_SCHEMA: JsonDict = {"propertyNames": {"minLength": 1, "maxLength": MAX_NAME_CHARS},
                             "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT,
                                                     "not": {"exclusiveMinimum": 0, "exclusiveMaximum": MIN_WEIGHT}}}
FILTER_SCHEMA: JsonDict = {
    "propertyNames": {"pattern": FILTER_KEY.pattern, "maxLength": MAX_FILTER_KEY_CHARS},
    "additionalProperties": filter_values_schema(),
}
# A space's name in `fields` and `rerank`: what a space may be called (settings and migrations hold the same bound).
SpaceName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
UNIQUE: JsonDict = {"uniqueItems": True}  # a space listed twice is refused (app.domain.plan.build_plan)
FilterValue = str | Integer | bool  # a filter's value (app.domain.filters.Scalar): `2020.0` is 2020


class Strict(BaseModel):
    """Base of every request body: strict types ("5" is not a number) and no unknown keys (a misspelt key is an
    error, not silently ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class DocumentIn(Strict):
    """One document to upsert: its id, title and body; summary and entities are derived when missing."""

    id: str = Field(min_length=1, description="Your id; maps to a stable Qdrant point id.")
    title: str
    body: str
    summary: str | None = Field(default=None, description="Derived (extractive) when missing.")
    entities: list[str] | None = Field(default=None, description="Derived (keyphrases) when missing or null; `[]`: "
                                       "none (nothing derived, no `entities` vector: no entities search finds it).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Filterable with `filter` in search.")


class DocumentsIn(Strict):
    """`POST /documents`: a batch, validated and encoded whole before anything is written."""

    # minItems/maxItems are declared from settings (app.api.openapi); IngestService.validate enforces them
    documents: list[DocumentIn] = Field(description="1 to `MULTIVEC_LIMITS__MAX_BATCH` documents.")


class CoverageOut(BaseModel):
    """How a body was embedded: passages and words encoded, passages pooled into shared vectors, any tail cut."""

    passages: int = Field(ge=0, description="Passages the body splits into.")
    passages_embedded: int = Field(ge=0, description="Passages encoded (`MULTIVEC_ENCODERS__MAX_PASSAGES`).")
    words: int = Field(ge=0)
    words_embedded: int = Field(ge=0)
    vectors: int = Field(ge=0, description="Body vectors on the point (at most `MULTIVEC_ENCODERS__MAX_CHUNKS`).")
    merged_passages: int = Field(ge=0, description="Passages folded into a neighbour's vector (embedded - vectors): "
                                 "past the cap the most alike adjacent passages share a vector.")
    passages_cut: int = Field(ge=0, description="Passages not encoded at all.")
    words_cut: int = Field(ge=0)


class DocumentsOut(BaseModel):
    """What an upsert wrote: the ids, the vector versions written, and how each body was embedded."""

    ids: list[str] = Field(description="The ids written, in request order.")
    count: int = Field(ge=0)
    vector_versions: list[str] = Field(description="The vector versions each document was written with.")
    coverage: list[CoverageOut] = Field(default_factory=list, description="Per document, in request order: how "
                                        "its body was embedded (nothing is dropped without being counted here).")


class DocumentOut(BaseModel):
    """A stored document: your fields, the derived ones marked in `derived`, and its vector versions."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    body: str
    summary: str | None = None
    entities: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    derived: dict[str, bool] = Field(default_factory=dict, description="Which fields the service derived.")
    vector_versions: list[str] = Field(default_factory=list)
    coverage: CoverageOut | None = Field(default=None, description="How the body was embedded (absent on points "
                                         "written before coverage was recorded).")


class SearchIn(Strict):
    """`POST /search`: the query and, all optional, which spaces, fusion, weights, plan, cascade, filter and
    fan-out to use; what is absent comes from settings, the stored ranking profile or the query router."""

    query: str = Field(min_length=1)
    limit: Integer | None = Field(default=None, ge=1,
                              description="Hits to answer, 1 to `MULTIVEC_SEARCH__MAX_LIMIT` (maximum states it).")
    fields: list[SpaceName] | None = Field(default=None, min_length=1, max_length=64, json_schema_extra=UNIQUE,
                                     description="Spaces to search, fused (the `fused` plan, adjusted); absent: "
                                                 "the plan's (the default plan: `MULTIVEC_SEARCH__PLAN`).")
    fusion: Literal["rrf", "dbsf", "learned"] | None = Field(
        default=None, description="`learned`: the stored ranking profile's learned scorer ranks the union of its "
        "spaces' lists (422 `learned_scorer_unavailable` when none is stored for the live vector versions).")
    weights: dict[str, float] | None = Field(
        default=None, json_schema_extra=WEIGHTS_SCHEMA,
        description=f"space -> weight: 0 (not fused) or {MIN_WEIGHT:g} to {MAX_WEIGHT:g}; spaces not named keep "
                    "their default.")
    rrf_k: Integer | None = Field(default=None, ge=1, le=MAX_RRF_K)
    filter: dict[str, FilterValue | list[FilterValue]] | None = Field(
        default=None, json_schema_extra=FILTER_SCHEMA,
        description="metadata key (a name, or a dotted path into nested metadata) -> value or values; "
                    "integers are signed 64-bit.")
    explain: bool = False
    plan: str | None = Field(default=None, min_length=1, max_length=128,
                             description="A named plan from settings (`MULTIVEC_SEARCH__PLANS`; built in: `fused`, "
                                         "`all`, `keyword`, `dense`, `cascade`); default `MULTIVEC_SEARCH__PLAN`. "
                                         '`"auto"`: the query router stored in the ranking profile picks one (what a '
                                         "request naming no plan, fields, fusion, weights or k gets when a router is "
                                         "stored); when it is missing, mismatched or unsure, the default plan runs.")
    rerank: list[SpaceName] | None = Field(
        default=None, max_length=16, json_schema_extra=UNIQUE,
        description="Spaces that rescore only the candidates the other spaces find (a cascade: staged or one "
                    "nested request, `MULTIVEC_SEARCH__CASCADE_REQUESTS`; in fan-out, a request per space); "
                    "`[]`: no rerank. Default: the plan's.")
    candidates: Integer | None = Field(default=None, ge=1, description="A cascade's stage-1 depth: how many candidates "
                                   "the rerank spaces rescore, 1 to `MULTIVEC_SEARCH__MAX_CANDIDATES`.")
    threshold: bool | None = Field(
        default=None,
        description="Drop hits that no searched dense space (BM25 only in a keywords-only search) scores at or "
                    "above its vector version's calibrated threshold (raw per-space score, not the fused score); "
                    "`note` says when hits were dropped.")
    fanout: bool | None = Field(
        default=None,
        description="true: send each space as its own request, in parallel, each under its deadline, and fuse what "
                    "answers in time (`degraded` names the spaces that missed); false: one batch request for every "
                    "space; absent: `MULTIVEC_SEARCH__EXECUTION`.")
    budget_ms: Integer | None = Field(
        default=None, ge=1,
        description="Fan-out: how long this search waits for its spaces, in ms (implies `fanout`; at most "
                    "`MULTIVEC_SEARCH__MAX_BUDGET_MS`, which maximum states); each space's own deadline is cut to it.")


class HealthOut(BaseModel):
    """`GET /health`: the process answers."""

    status: Literal["ok"]


class ReadyOut(BaseModel):
    """`GET /ready`: the store answers, every collection served opens, and each space's live version."""

    status: Literal["ready"]
    store: str = Field(description="`edge` (embedded) or `qdrant` (server or :memory:).")
    collection: str = Field(description="The collection alias served.")
    collections: dict[str, int] = Field(description="Each collection served -> its points.")
    live: dict[str, str | None] = Field(description="space -> its live vector version.")


class ErrorBody(BaseModel):
    """Every error answer: a stable `code`, a `message` naming the problem, and `detail` (any JSON, or null)."""

    code: str
    message: str
    detail: Any


def _absent(value: object) -> bool:
    return value is None


class HitOut(BaseModel):
    """One hit of a search: the document's id, its point, its score and its stored title, summary and metadata;
    with `explain`, how each space and stage ranked and scored it."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The document's id, as written.")
    point_id: str = Field(description="The Qdrant point id the document is stored as (a UUID derived from `id`).")
    score: float = Field(description="The fused score (the plan's fusion or final formula): larger is better.")
    title: str | None = None
    summary: str | None = Field(default=None, description="Given or derived.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    explain: dict[str, dict[str, Any]] | None = Field(
        default=None, exclude_if=_absent,
        description="With `explain`: space -> its `rank` and raw `score` of this hit, `weight` and `contribution` "
                    "(in a cascade also its `stage`: `candidates` or `rerank`).")
    stages: dict[str, dict[str, Any]] | None = Field(
        default=None, exclude_if=_absent,
        description="With `explain`, in a cascade: stage -> this hit's `rank` and `score` there (null where the "
                    "stage did not hold it) and, but for `final`, its `contribution` to the final score.")


class SearchOut(BaseModel):
    """`POST /search`'s answer: hits best first (with `explain`, each space's rank, score and contribution, and
    the plan and timings in ms too)."""

    hits: list[HitOut]
    plan: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None
    note: str | None = Field(default=None, description="Said when `threshold` dropped hits, or could not apply.")
    degraded: list[str] = Field(default_factory=list, description="The spaces a fan-out search answered without "
                                "(each missed its deadline, failed, or found the pool full): the hits are fused from "
                                "the others. Empty: the answer is whole.")


BACKUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # one folder under the service's backup folder, no path


class BackupIn(Strict):
    """`POST /admin/backup`: which folder of the service's backup folder (`MULTIVEC_BACKUP_DIR`) to write."""

    name: str | None = Field(default=None, pattern=BACKUP_NAME,
                             description="A new folder's name; default `multivec-<UTC time>`.")


class RestoreIn(Strict):
    """`POST /admin/restore`: which backup of the service's backup folder to restore, and whether to replace data."""

    name: str = Field(pattern=BACKUP_NAME, description="The backup folder's name (under `MULTIVEC_BACKUP_DIR`).")
    force: bool = Field(default=False, description="Replace a target that holds documents (else 409).")


class BackupOut(BaseModel):
    """What a backup or restore did."""

    action: str = Field(description="`backup` or `restore`.")
    path: str = Field(description="The backup folder, on the service's machine.")
    collections: dict[str, int] = Field(description="Points per collection (the meta collection included).")
    aliases: dict[str, str]
    formats: dict[str, str] = Field(description="Per collection: `edge-snapshot`, `qdrant-snapshot` or "
                                    "`points-jsonl`.")
    points: int = Field(ge=0)
    bytes: int = Field(ge=0)
    seconds: float = Field(ge=0)
    kept: list[str] = Field(description="Restore: collections of the target the backup does not name (left as they "
                            "were).")
    summary: str = Field(description="The same in one line.")
