"""Add version 2 of space `entities`, pooled from MiniLM-L6's one shared pass over title + body."""

from app.versioning.declare import AddVersion

revision = "0007"
depends_on = "0006"

change = AddVersion(space="entities", model="minilm-l6-int8-shared", version=2)
