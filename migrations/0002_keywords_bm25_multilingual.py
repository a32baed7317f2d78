"""Add version 2 of space `keywords`, made by Qdrant's own BM25 with its multilingual tokenizer
(qdrant-edge-py `Bm25`, `TokenizerType.Multilingual`): Chinese, Japanese and Thai are segmented into
words, every other script split on Unicode word boundaries; English stopwords and stemmer as v1."""

from app.versioning.declare import AddVersion

revision = "0002"
depends_on = "0001"

change = AddVersion(space="keywords", model="bm25-multilingual", version=2)
