"""Encoders: offline model assembly and fastembed adapters for dense and sparse vectors."""
