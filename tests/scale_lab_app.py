"""A one-section app for AppTests of the scale lab: the words dataset under the static model,
from the bundled vectors, handed to ``render_scale_lab`` as the Search page would."""

from __future__ import annotations

from core.datasets import load_dataset
from core.vectors import VectorSet, embed_dataset
from views import _ui
from views._scale_lab import render_scale_lab

MODEL = "static-minilm-256"

dataset = load_dataset("words")
model = _ui.embedder(MODEL)
vectors = embed_dataset(dataset, model)
render_scale_lab(_ui.Workspace(dataset, {MODEL: VectorSet(dataset, MODEL, vectors, model)}))
