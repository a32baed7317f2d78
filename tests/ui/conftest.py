"""The inspection page's fixtures: the API's (one embedded store per module, the app served by uvicorn)."""

from tests.api.conftest import app_services, client, live_url, seeded

__all__ = ["app_services", "client", "live_url", "seeded"]
