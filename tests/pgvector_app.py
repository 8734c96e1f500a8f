"""A one-section app for AppTests of the pgvector section: the words dataset under the
static model, from the bundled vectors, handed to ``pgvector_section`` as the Engines tab
would."""

from __future__ import annotations

from core.datasets import load_dataset
from core.vectors import embed_dataset
from views import _ui
from views._pgvector import pgvector_section

dataset = load_dataset("words")
vectors = embed_dataset(dataset, _ui.embedder("static-minilm-256"))
pgvector_section(vectors, dataset.labels)
