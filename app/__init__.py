"""Multi-embedding retrieval service: one Qdrant point per document, a named vector per side."""
