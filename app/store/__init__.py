"""Storage port and its adapters: embedded (qdrant-edge) and server (qdrant-client)."""
