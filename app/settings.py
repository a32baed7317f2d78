"""Settings: store, models, spaces, search defaults and input limits, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.versions import MAX_NAME_CHARS

# search settings live in their own module; re-exported here, where the rest of the code reads them
from app.search_settings import PlanSettings as PlanSettings
from app.search_settings import SearchSettings as SearchSettings
from app.search_settings import builtin_plans as builtin_plans
from app.search_settings import evaluated_weights as evaluated_weights
from app.settings_checks import Folder, too_deep, url_or_unset

# the spaces and models live in their own module; re-exported here, where the rest of the code reads them
from app.space_settings import ModelSettings as ModelSettings
from app.space_settings import SharedPassSettings as SharedPassSettings
from app.space_settings import SpaceField as SpaceField
from app.space_settings import SpaceSettings as SpaceSettings
from app.space_settings import default_models as default_models
from app.space_settings import default_spaces as default_spaces

MAX_BODY_BYTES = 64 * 1024 * 1024  # the largest request body the service reads (413 past it)



class StoreSettings(BaseModel):
    """Where the vectors live: a data folder (embedded) unless a server URL is set."""

    url: str | None = None
    api_key: str | None = None
    path: Folder = Path("data")
    collection: str = Field(default="documents", min_length=1, max_length=MAX_NAME_CHARS)
    timeout_s: float = Field(default=10.0, gt=0, le=3_600)
    retry_attempts: int = Field(default=3, ge=1, le=20)  # every try, the first included: 1 retries nothing
    retry_wait_s: float = Field(default=0.2, ge=0, le=60)
    # the embedded store refuses a write, optimisation or snapshot (503 `disk_full`) that would leave less free
    # space on its disk than this, in MB: a full disk kills the process (SIGBUS); 0 turns the check off
    min_free_mb: int = Field(default=256, ge=0, le=100_000_000)


Quantization = Literal["none", "scalar", "binary"]
Datatype = Literal["float32", "float16"]


class SpaceStorageSettings(BaseModel):
    """One space's storage, overriding the collection-wide defaults (unset: the default)."""

    model_config = {"extra": "forbid"}

    on_disk: bool | None = None
    quantization: Quantization | None = None
    datatype: Datatype | None = Field(default=None, description="`float32` or `float16` (half the bytes) for "
                                      "this dense or multivector space; a sparse space takes none.")


class CollectionSettings(BaseModel):
    """How new collections are laid out (at first start, and by a rebuild migration).

    The cluster fields are a Qdrant server's (None: the server's default); the embedded store has
    one local shard and ignores them (it says so once at startup). Vectors: `on_disk_vectors` keeps
    the original floats memory-mapped on disk; `quantization` keeps an int8 (`scalar`) or 1-bit
    (`binary`) copy in RAM, searched first, then `rescore`d with the originals after fetching
    `oversampling` x limit candidates. `vector_datatype` stores the original dense and multivector
    floats as `float16` (the default: 2 bytes a dimension) or `float32` (4; sparse vectors ignore it):
    chosen by measurement, the default searches rank alike on SciFact and CISI, and the 100,000-document
    build takes 24 % less CPU at half the peak memory (docs/sizing.md#float16-vectors). `spaces`
    overrides on-disk, quantization and datatype per space.
    """

    model_config = {"extra": "forbid"}

    shard_number: int | None = Field(default=None, ge=1, le=1000)
    replication_factor: int | None = Field(default=None, ge=1, le=100)
    write_consistency_factor: int | None = Field(default=None, ge=1, le=100)
    on_disk_payload: bool | None = None
    on_disk_vectors: bool = False
    quantization: Quantization = "none"
    vector_datatype: Datatype = "float16"
    rescore: bool = True
    oversampling: float | None = Field(default=None, ge=1.0, le=100.0)
    spaces: dict[str, SpaceStorageSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistency_within_replicas(self) -> CollectionSettings:
        # Qdrant refuses writes that need more acknowledgements than there are replicas
        if self.write_consistency_factor and self.write_consistency_factor > (self.replication_factor or 1):
            raise ValueError(f"write_consistency_factor ({self.write_consistency_factor}) must be at most "
                             f"replication_factor ({self.replication_factor or 1})")
        return self


class EncoderSettings(BaseModel):
    """Bounds on the encoders' work: onnxruntime memory grows with batch x sequence length."""

    cache_dir: Folder = Path(".cache/models")
    # measured: smaller, length-sorted batches are faster and bound memory
    batch_tokens: int = Field(default=1024, ge=16, le=1_048_576)
    max_batch: int = Field(default=64, ge=1, le=4_096)
    threads: int | None = Field(default=None, ge=1, le=1_024)
    chunk_words: int = Field(default=120, ge=1, le=10_000)
    max_chunks: int = Field(default=32, ge=1, le=10_000, description="Body vectors per point; past it the most "
                            "alike adjacent passages are merged (mean, re-normalised) until this many are left.")
    max_passages: int = Field(default=512, ge=1, le=1_000_000, description="Passages encoded per body (bounds the "
                              "encoder's work); past it the tail is cut and the document's `coverage` says so.")
    max_entities: int = Field(default=8, ge=0, le=1_000)  # derived keyphrases kept (0: the title alone)
    shared_group_chars: int = Field(default=262_144, ge=1, le=MAX_BODY_BYTES, description="Shared mode: the token "
                                    "states of documents of at most this many characters in all are held at once "
                                    "(bounds memory).")


class RolloutSettings(BaseModel):
    """Shadow reads during a gradual rollout (`scripts/migrate promote --percent`): for a sample of searches
    the other version of a rolled-out space runs too, off the request path, and its overlap@10 with the
    answer and its latency are recorded. Work that finds the queue full is dropped, never waited for."""

    shadow_percent: int = Field(default=10, ge=0, le=100, description="Share of rollout searches shadowed.")
    shadow_workers: int = Field(default=1, ge=1, le=8, description="Threads that run shadow reads.")
    shadow_queue: int = Field(default=32, ge=1, le=10_000, description="Shadow reads waiting at most.")


class LimitSettings(BaseModel):
    """Input limits: past these a request is refused with a 422 that names the limit, and nothing is
    written. Qdrant's storage cannot read back a payload nested 127 levels deep, so the metadata
    depth is capped well below that (`le=64`)."""

    max_batch: int = Field(default=256, ge=1)
    max_batch_chars: int = Field(default=4_000_000, ge=1)  # every text of a batch, summed: bounds one request's work
    # a 45,000-word English body (about 300,000 characters; long words up to 500,000) fits; its passages are
    # bounded by encoders.max_passages
    max_text_chars: int = Field(default=500_000, ge=1)
    max_title_chars: int = Field(default=2_000, ge=1)
    max_query_chars: int = Field(default=2_000, ge=1)
    max_entities: int = Field(default=64, ge=1)
    max_entity_chars: int = Field(default=500, ge=1)
    max_id_chars: int = Field(default=256, ge=1)
    max_metadata_depth: int = Field(default=16, ge=1, le=64)
    max_metadata_keys: int = Field(default=256, ge=1)
    max_metadata_key_chars: int = Field(default=128, ge=1)
    max_metadata_string_chars: int = Field(default=8_192, ge=1)
    max_metadata_bytes: int = Field(default=65_536, ge=1)
    max_filter_conditions: int = Field(default=16, ge=1)
    max_filter_values: int = Field(default=256, ge=1)
    max_json_depth: int = Field(default=64, ge=8, le=100)  # any request body (the engine reads < 127)

    @model_validator(mode="after")
    def _within_a_body(self) -> LimitSettings:
        # no text or count in a request can exceed its body: the natural upper bound of every input limit
        for name, value in self:
            if value > MAX_BODY_BYTES:
                raise ValueError(f"limits.{name} is {value}, over the largest request body ({MAX_BODY_BYTES} bytes)")
        return self

    @model_validator(mode="after")
    def _json_holds_metadata(self) -> LimitSettings:
        # body > documents > [i] > metadata: four levels before the metadata's own
        if self.max_json_depth < self.max_metadata_depth + 4:
            raise ValueError(f"max_json_depth must be at least max_metadata_depth + 4 = {self.max_metadata_depth + 4}")
        return self


class Settings(BaseSettings):
    """All settings; env vars use the prefix MULTIVEC_ and `__` for nesting (MULTIVEC_STORE__URL)."""

    model_config = SettingsConfigDict(env_prefix="MULTIVEC_", env_nested_delimiter="__", extra="ignore")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except RecursionError:  # a variable's JSON nested past what the decoder reads (MULTIVEC_SPACES=[[[...)
            raise too_deep(os.environ) from None

    store: StoreSettings = Field(default_factory=StoreSettings)
    models: dict[str, ModelSettings] = Field(default_factory=default_models)
    spaces: list[SpaceSettings] = Field(default_factory=default_spaces)
    encoders: EncoderSettings = Field(default_factory=EncoderSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    rollout: RolloutSettings = Field(default_factory=RolloutSettings)
    collection: CollectionSettings = Field(default_factory=CollectionSettings)
    admin_token: str | None = None
    service_url: str | None = Field(default=None, description="The running service's URL, for operators' commands "
                                    "(`scripts/migrate` goes through its admin API when this is set).")
    api_key: str | None = Field(default=None, description="Read-write API key (`api-key` header or bearer).")
    read_only_api_key: str | None = Field(default=None, description="API key for searches and reads only.")
    allow_open: bool = Field(default=False, description="Serve on a non-loopback address with no API key.")
    log_level: str = Field(default="INFO", description="Level of the service's JSON log lines (`scripts/serve`).")
    backup_dir: Folder = Field(default=Path("backups"), description="Where `POST /admin/backup` writes backups and "
                             "`POST /admin/restore` reads them (one folder each); `scripts/backup`'s default.")

    @field_validator("admin_token", "api_key", "read_only_api_key")
    @classmethod
    def _secret_not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        # "" means unset; "  " is a mistake that would lock every client out (or look like a key)
        if value is not None and value and not value.strip():
            raise ValueError(f"MULTIVEC_{str(info.field_name).upper()} is blank: set a real secret, or leave it empty")
        return value or None

    @field_validator("service_url")
    @classmethod
    def _url_not_blank(cls, value: str | None) -> str | None:
        return url_or_unset(value)  # "" means unset, "  " is refused

    @model_validator(mode="after")
    def _secrets_differ(self) -> Settings:
        # the same value for two secrets would let the read-only key write, or an API key administer
        given = [(n, v) for n, v in (("API_KEY", self.api_key), ("READ_ONLY_API_KEY", self.read_only_api_key),
                                     ("ADMIN_TOKEN", self.admin_token)) if v]
        for i, (a, va) in enumerate(given):
            for b, vb in given[i + 1:]:
                if va == vb:
                    raise ValueError(f"MULTIVEC_{a} and MULTIVEC_{b} are the same: each secret must differ")
        return self

    @model_validator(mode="after")
    def _check_spaces(self) -> Settings:
        names = [s.name for s in self.spaces]
        if not names:  # a service that says it is ready and writes documents no search can find
            raise ValueError("spaces is empty: configure at least one space (or unset MULTIVEC_SPACES for the "
                             "default ones)")
        if all(s.index == "rerank" for s in self.spaces):  # nothing finds candidates for them to rescore
            raise ValueError(f"every space ({', '.join(names)}) has index 'rerank' (only rescores candidates): at "
                             "least one space needs index 'hnsw' to find them")
        if len(set(names)) != len(names):
            raise ValueError(f"space names must be unique: {names}")
        for space in self.spaces:
            if space.model not in self.models:
                raise ValueError(f"space {space.name!r} names unknown model {space.model!r}")
            model_kind = self.models[space.model].kind
            if (space.kind == "sparse") != (model_kind == "sparse"):
                raise ValueError(f"space {space.name!r} is {space.kind} but model {space.model!r} is {model_kind}")
        for name in self.search.deadlines_ms:
            if name not in names:
                raise ValueError(f"search.deadlines_ms names unknown space {name!r}: expected one of {sorted(names)}")
        kinds = {s.name: s.kind for s in self.spaces}
        configured = self.search.plans if "plans" in self.search.model_fields_set else {}
        for plan_name, plan in configured.items():  # built-ins naming a space not configured fail when chosen
            named = set(plan.fields or []) | set(plan.rerank) | set(plan.weights)
            if named - set(kinds):
                raise ValueError(f"search.plans.{plan_name} names unknown spaces {sorted(named - set(kinds))}: "
                                 f"expected some of {sorted(kinds)}")
        for name, storage in self.collection.spaces.items():
            if name not in kinds:
                raise ValueError(f"collection.spaces names unknown space {name!r}: expected one of {sorted(kinds)}")
            if kinds[name] == "sparse" and storage.quantization not in (None, "none"):
                raise ValueError(f"space {name!r} is sparse: Qdrant quantizes dense vectors only")
            if kinds[name] == "sparse" and storage.datatype not in (None, "float32"):
                raise ValueError(f"space {name!r} is sparse: its weights are float32, only dense and multivector "
                                 "spaces take datatype float16")
        return self
