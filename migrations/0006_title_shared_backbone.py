"""Add version 3 of space `title`, pooled from MiniLM-L6's one shared pass over title + body."""

from app.versioning.declare import AddVersion

revision = "0006"
depends_on = "0005"

change = AddVersion(space="title", model="minilm-l6-int8-shared", version=3)
