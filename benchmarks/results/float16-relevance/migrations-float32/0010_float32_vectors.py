"""Store every dense and multivector space's floats as float32 again: the control, a fresh copy and HNSW build at the same datatype (s18 measurement)."""

from app.versioning.declare import Rebuild

revision = "0010"
depends_on = None

change = Rebuild(datatype={s: "float32" for s in ("title", "body", "summary", "entities", "document")},
                 reason="control: rebuilt at float32")
