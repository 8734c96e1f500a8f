"""Embeddings Explorer engine: models, datasets and the maths behind every page."""
