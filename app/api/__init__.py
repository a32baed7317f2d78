"""HTTP layer: thin Litestar controllers and request/response schemas."""
