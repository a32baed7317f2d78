"""Observability: Prometheus metrics of one app instance and one JSON log line per request."""
