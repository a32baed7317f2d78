"""Add version 3 of space `keywords`: Qdrant's multilingual BM25 as v2, with each number a term too
(`7731`, `1987`, `3.14`, `٧٧٣١`, the `7731` of `QX-7731`), which v2's tokenizer drops; text without a
number gets the same vector as in v2."""

from app.versioning.declare import AddVersion

revision = "0011"
depends_on = None  # eval copy only: this index records 0003-0010, not 0001-0002

change = AddVersion(space="keywords", model="bm25-multilingual-numbers", version=4)  # eval copy only: this index already holds a keywords v3 (fastembed BM25, an earlier experiment)
