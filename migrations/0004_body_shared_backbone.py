"""Add version 2 of space `body`, pooled from MiniLM-L6's one shared pass over title + body."""

from app.versioning.declare import AddVersion

revision = "0004"
depends_on = "0003"

change = AddVersion(space="body", model="minilm-l6-int8-shared", version=2)
