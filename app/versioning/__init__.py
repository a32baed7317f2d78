"""Versioned embeddings: migrations that add a vector version or rebuild a collection, step by step."""
