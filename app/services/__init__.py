"""Use cases: each orchestrates encoders and the store for one job."""
