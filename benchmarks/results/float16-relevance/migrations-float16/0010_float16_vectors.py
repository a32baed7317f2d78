"""Store every dense and multivector space's floats as float16 (s18 measurement; vectors copied)."""

from app.versioning.declare import Rebuild

revision = "0010"
depends_on = None

change = Rebuild(datatype={s: "float16" for s in ("title", "body", "summary", "entities", "document")},
                 reason="half the bytes per dimension")
