"""Add version 2 of space `summary`, pooled from MiniLM-L6's one shared pass over title + body."""

from app.versioning.declare import AddVersion

revision = "0005"
depends_on = "0004"

change = AddVersion(space="summary", model="minilm-l6-int8-shared", version=2)
