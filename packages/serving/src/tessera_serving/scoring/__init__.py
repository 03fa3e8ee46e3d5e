"""Guarded scoring: the feature-schema guard and its events, the scoring plan over Arrow
batches, Parquet in and out, scoring jobs, stored scores and re-scoring sweeps.

Callers use the facade (``tessera_serving``); the modules here are the implementation.
"""
