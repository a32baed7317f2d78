"""Add version 2 of space `document`, pooled from MiniLM-L6's one shared pass over title + body."""

from app.versioning.declare import AddVersion

revision = "0003"
depends_on = "0002"

change = AddVersion(space="document", model="minilm-l6-int8-shared", version=2)
