"""Facts about embedding models: one row per model usable here (description, dimensions,
token limit, whether it normalizes, supports MRL and runs locally, or why it cannot load),
one text's vector under a model with its measurements (dimensions, norm, tokens,
truncation), and vectors as ``{label: [floats]}`` JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.metrics import as_matrix


@dataclass(frozen=True)
class ModelRow:
    """One model as the model table shows it; ``error`` says why it cannot load here (then
    the other fields are unknown and left at their defaults)."""

    name: str
    description: str = ""
    dims: int | None = None
    max_tokens: int | None = None
    supports_mrl: bool | None = None
    normalized: bool | None = None
    local: bool | None = None
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None


def model_row(embedder: Embedder) -> ModelRow:
    """The table row of a loaded model, from its attributes."""
    return ModelRow(
        name=embedder.name,
        description=embedder.description,
        dims=embedder.dims,
        max_tokens=embedder.max_tokens,
        supports_mrl=embedder.supports_mrl,
        normalized=embedder.normalized,
        local=embedder.local,
    )


def model_table(names: Iterable[str], load: Callable[[str], Embedder]) -> tuple[ModelRow, ...]:
    """A row for each model name; a model that fails to ``load`` gets a row with its error
    instead of breaking the table."""
    rows = []
    for name in names:
        try:
            rows.append(model_row(load(name)))
        except ExplorerError as exc:
            rows.append(ModelRow(name=name, error=str(exc)))
    return tuple(rows)


@dataclass(frozen=True)
class EmbeddedText:
    """One text's vector under one model: ``vector`` is float32 ``(dims,)``, ``norm`` its L2
    length, ``tokens`` the tokens the text uses (before truncation to ``max_tokens``)."""

    model: str
    text: str
    vector: np.ndarray
    norm: float
    tokens: int
    max_tokens: int

    @property
    def dims(self) -> int:
        return int(self.vector.shape[0])

    @property
    def truncated(self) -> bool:
        """True when the model only read the first ``max_tokens`` tokens."""
        return self.tokens > self.max_tokens

    def to_json(self) -> str:
        """The vector as ``{"<text>": [floats]}``, the seed notebooks' import format."""
        return vectors_json([self.text], self.vector)


def embed_text(embedder: Embedder, text: str) -> EmbeddedText:
    """Embed one ``text`` with ``embedder`` and measure it."""
    vector = embedder.embed([text])[0]
    return EmbeddedText(
        model=embedder.name,
        text=text,
        vector=vector,
        norm=float(np.linalg.norm(vector.astype(np.float64))),
        tokens=embedder.count_tokens(text),
        max_tokens=embedder.max_tokens,
    )


def vectors_json(labels: Sequence[str], vectors: np.ndarray | list) -> str:
    """``{label: [floats]}`` JSON for ``(n, d)`` ``vectors`` (a ``(d,)`` vector is one row)."""
    rows = as_matrix(vectors)
    if len(labels) != rows.shape[0]:
        raise ExplorerError(f"{len(labels)} labels for {rows.shape[0]} vectors: give one each.")
    if len(set(labels)) != len(labels):
        raise ExplorerError("Labels repeat: JSON keys must be unique.")
    # float() of a float32 keeps its exact value, so the JSON reloads bit for bit.
    return json.dumps(
        {label: [float(v) for v in row] for label, row in zip(labels, rows, strict=True)}
    )
