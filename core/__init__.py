"""Embeddings Explorer engine: models, datasets and the maths behind every page.

The stable surface for notebooks::

    import core
    core.list_embedders()                    # ['all-MiniLM-L6-v2', 'static-minilm-256', ...]
    model = core.get_embedder("all-MiniLM-L6-v2")
    vectors = model.embed(["dog", "cat"])    # float32, shape (2, 384), unit length
    words = core.load_dataset("words")       # .labels, .texts, .categories
    core.list_engines()                      # nearest-neighbour engines (see core.engines)
"""

from __future__ import annotations

from core.datasets import Dataset, list_datasets, load_dataset
from core.embedders.base import Embedder
from core.embedders.registry import get_embedder, list_embedders
from core.engines import get_engine, list_engines
from core.errors import ExplorerError
from core.metrics import Metric
from core.vectors import VectorSet, embed_dataset

__all__ = [
    "Dataset",
    "Embedder",
    "ExplorerError",
    "Metric",
    "VectorSet",
    "embed_dataset",
    "get_embedder",
    "get_engine",
    "list_datasets",
    "list_embedders",
    "list_engines",
    "load_dataset",
]
