"""The inspection page's fixtures: the API's (one embedded store per module, the app served by uvicorn)
and the migrations' (a small corpus on either adapter, its migrator, the first migration file)."""

from tests.api.conftest import app_services, client, live_url, seeded
from tests.migrations.conftest import corpus, migration, migrator

__all__ = ["app_services", "client", "corpus", "live_url", "migration", "migrator", "seeded"]
