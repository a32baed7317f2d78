"""Evaluation on judged data: metrics, fusion variants, learned profiles, thresholds, canary, benchmarks."""
