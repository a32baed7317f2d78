"""Add version 2 of space `title`, made by paraphrase-MiniLM-L3-v2 (3 layers: about twice as fast to encode)."""

from app.versioning.declare import AddVersion

revision = "0001"
depends_on = None

change = AddVersion(space="title", model="paraphrase-minilm-l3", version=2)
