"""A one-section app for AppTests of the pgvector section: the words dataset under the
static model, from the bundled vectors, handed to ``pgvector_section`` as the Engines tab
would."""

from __future__ import annotations

from core.datasets import load_dataset
from core.vectors import VectorSet, embed_dataset
from views import _ui
from views._pgvector import pgvector_section

MODEL = "static-minilm-256"

dataset = load_dataset("words")
model = _ui.embedder(MODEL)
vs = VectorSet(dataset, MODEL, embed_dataset(dataset, model), model)
pgvector_section(vs.vectors, dataset.labels, vectors_key=vs.key)
