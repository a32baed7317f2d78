"""Add version 4 of space `keywords`: v3 (Qdrant's multilingual BM25, each number a term), with each run of
Japanese in text of another language tokenised on its own (`We visited 東京の桜が満開です last spring`: v3 read
it as English and kept the Japanese as one token; Korean beside Japanese was dropped). A text without
Japanese, or in Japanese alone, gets the same vector as in v3 (plus, for Khmer, Lao, Myanmar and other scripts
the tokenizer leaves unsegmented, each character and pair of neighbouring characters as a term)."""

from app.versioning.declare import AddVersion

revision = "0011"
depends_on = "0010"

change = AddVersion(space="keywords", model="bm25-multilingual-scripts", version=4)
