"""Facts about embedding models: one row per model the app knows (local ones with their size
on disk, hosted ones configured here, uploaded vector files, and the talk's reference rows),
one text's vector under a model with its measurements (dimensions, norm, tokens,
truncation), and vectors as ``{label: [floats]}`` JSON.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.embedders.base import Embedder
from core.embedders.providers import MODELS, OPENAI_MAX_TOKENS
from core.embedders.remote import RemoteEmbedder
from core.errors import ExplorerError
from core.metrics import as_matrix
from core.modes import Mode
from core.storage import format_bytes
from core.vectors import embed_once


class ModelKind(Mode):
    """Where a row of the model table comes from."""

    LOCAL = "local"
    HOSTED = "hosted (configured)"
    UPLOADED = "uploaded"
    REFERENCE = "reference (the talk)"


@dataclass(frozen=True)
class ModelRow:
    """One model as the model table shows it. ``None`` means unknown or not applicable;
    ``error`` says why a model cannot load here (its other facts are then unknown).

    ``dims`` is the native length and ``min_dims`` the shortest the model offers when it
    offers several (Matryoshka APIs); ``size_bytes`` what its files take on this disk;
    ``mteb`` its MTEB average in percent, as the talk quotes it."""

    name: str
    kind: ModelKind = ModelKind.LOCAL
    description: str = ""
    encodes: str | None = None
    dims: int | None = None
    min_dims: int | None = None
    max_tokens: int | None = None
    supports_mrl: bool | None = None
    normalized: bool | None = None
    runs: str | None = None
    size_bytes: int | None = None
    mteb: float | None = None
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None

    @property
    def dims_text(self) -> str:
        """``"50"``, ``"256–1536"`` for a range, ``"–"`` when unknown."""
        if self.dims is None:
            return "–"
        if self.min_dims is not None and self.min_dims != self.dims:
            return f"{self.min_dims}–{self.dims}"
        return str(self.dims)


# What a local model's input is, for the models whose unit is not running text in context.
# A model missing here encodes "text".
_LOCAL_INPUT = {
    "glove-6b-50d": "words (a phrase: the mean of its words)",
    "static-minilm-256": "word pieces (a text: their weighted mean, no context)",
}


# Where each local model's files are read from: module and function, imported only when
# the model's row is drawn.
_FOLDERS = {
    "all-MiniLM-L6-v2": ("core.embedders.minilm", "model_dir"),
    "all-mpnet-base-v2": ("core.embedders.mpnet", "default_folder"),
    "glove-6b-50d": ("core.embedders.glove", "data_dir"),
    "static-minilm-256": ("core.embedders.static", "default_folder"),
}


def _folder_of(name: str) -> Path | None:
    """The folder a local model's files are read from, for the models that say where."""
    if name not in _FOLDERS:
        return None
    module, function = _FOLDERS[name]
    return Path(getattr(importlib.import_module(module), function)())


def disk_bytes(path: Path) -> int:
    """Bytes the files under ``path`` take (a file's own size; links not followed);
    0 when it does not exist."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def model_row(embedder: Embedder, folder: Path | None = None) -> ModelRow:
    """The table row of a loaded model, from its attributes; ``folder`` (default: where the
    model's files are known to live) is measured for the size on disk. A hosted model's
    length is left unknown rather than asked of the server."""
    if isinstance(embedder, RemoteEmbedder):
        config = embedder.config
        return ModelRow(
            name=embedder.name,
            kind=ModelKind.HOSTED,
            description=embedder.description,
            encodes="text",
            dims=embedder.known_dims,
            max_tokens=embedder.max_tokens,
            supports_mrl=embedder.supports_mrl,
            normalized=embedder.normalized,
            runs=f"{config.spec.label} at {config.endpoint}",
        )
    folder = folder or _folder_of(embedder.name)
    return ModelRow(
        name=embedder.name,
        kind=ModelKind.LOCAL if embedder.local else ModelKind.HOSTED,
        description=embedder.description,
        encodes=_LOCAL_INPUT.get(embedder.name, "text"),
        dims=embedder.dims,
        max_tokens=embedder.max_tokens,
        supports_mrl=embedder.supports_mrl,
        normalized=embedder.normalized,
        runs="here (numpy, no network)" if embedder.local else "remote API",
        size_bytes=disk_bytes(folder) if folder is not None else None,
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


# Unit-length test for uploaded vectors: float32 rounding leaves norms within ~1e-6 of 1.
UNIT_TOLERANCE = 1e-3


def uploaded_row(name: str, vectors: np.ndarray | list) -> ModelRow:
    """The row of vectors uploaded under ``name``: their length and whether every one is
    unit length are measured; no model is at hand to embed new text."""
    rows = as_matrix(vectors)
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    return ModelRow(
        name=name,
        kind=ModelKind.UPLOADED,
        description=f"{rows.shape[0]:,} vectors from an uploaded file.",
        encodes="the file's items only (no model here to embed new text)",
        dims=int(rows.shape[1]),
        normalized=bool(np.all(np.abs(norms - 1.0) <= UNIT_TOLERANCE)),
        runs="uploaded file",
    )


@dataclass(frozen=True)
class TalkModel:
    """A model the talk compares, as facts (not run here): its MTEB average in percent
    and, for Matryoshka models, the shortest length the talk lists."""

    name: str
    encodes: str
    dims: int
    description: str
    min_dims: int | None = None
    mteb: float | None = None
    max_tokens: int | None = None
    supports_mrl: bool = False
    normalized: bool | None = None


def _openai(name: str, mteb: float, min_dims: int | None = None) -> TalkModel:
    """An OpenAI row of the talk; length, limit and MRL from the hosted-model catalogue."""
    info = MODELS[name]
    return TalkModel(
        name,
        "text",
        info.dims,
        info.description,
        min_dims=min_dims,
        mteb=mteb,
        max_tokens=OPENAI_MAX_TOKENS,
        supports_mrl=info.supports_dimensions,
        normalized=info.normalized,
    )


TALK_MODELS: tuple[TalkModel, ...] = (
    TalkModel(
        "word2vec",
        "words",
        300,
        "Mikolov et al. (Google, 2013): one fixed vector per word, learnt by predicting a "
        "word's neighbours.",
        max_tokens=1,
        normalized=False,
    ),
    TalkModel(
        "Sentence-Transformers",
        "text",
        768,
        "SBERT models (2019 on), e.g. all-mpnet-base-v2: a transformer's token vectors, "
        "mean-pooled, trained on sentence pairs.",
    ),
    _openai("text-embedding-ada-002", 61.0),
    _openai("text-embedding-3-small", 62.3, min_dims=256),
    _openai("text-embedding-3-large", 64.6, min_dims=256),
)


def talk_rows() -> tuple[ModelRow, ...]:
    """The talk's model table as reference rows: facts quoted, not models run here."""
    return tuple(
        ModelRow(
            name=m.name,
            kind=ModelKind.REFERENCE,
            description=m.description,
            encodes=m.encodes,
            dims=m.dims,
            min_dims=m.min_dims,
            max_tokens=m.max_tokens,
            supports_mrl=m.supports_mrl,
            normalized=m.normalized,
            runs="not run here (facts from the talk)",
            mteb=m.mteb,
        )
        for m in TALK_MODELS
    )


# The model table's columns; the compact set fits a projected 1280x720 screen.
COLUMNS = (
    "model",
    "kind",
    "encodes",
    "dimensions",
    "max input (tokens)",
    "MRL (truncatable)",
    "unit length",
    "runs",
    "size on disk",
    "MTEB avg",
)
COMPACT_COLUMNS = ("model", "kind", "dimensions", "MRL (truncatable)", "MTEB avg")


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def table_records(rows: Sequence[ModelRow], compact: bool = False) -> list[dict[str, str]]:
    """The rows as text cells under :data:`COLUMNS` (``compact``: :data:`COMPACT_COLUMNS`);
    "–" marks what is unknown or does not apply."""
    records = []
    for r in rows:
        cells = {
            "model": r.name,
            "kind": r.kind.value,
            "encodes": r.encodes or "–",
            "dimensions": r.dims_text,
            "max input (tokens)": "–" if r.max_tokens is None else f"{r.max_tokens:,}",
            "MRL (truncatable)": _yes_no(r.supports_mrl),
            "unit length": _yes_no(r.normalized),
            "runs": (r.runs or "–") if r.available else "cannot load here",
            "size on disk": "–" if r.size_bytes is None else format_bytes(r.size_bytes),
            "MTEB avg": "–" if r.mteb is None else f"{r.mteb:.1f} %",
        }
        records.append({c: cells[c] for c in (COMPACT_COLUMNS if compact else COLUMNS)})
    return records


@dataclass(frozen=True)
class EmbeddedText:
    """One text's vector under one model: ``vector`` is float32 ``(dims,)``, ``norm`` its L2
    length, ``tokens`` the tokens the text uses (before truncation to ``max_tokens``),
    ``seconds`` the wall time the model took to embed it; all three None for a vector read
    from an uploaded file (no model read the text here)."""

    model: str
    text: str
    vector: np.ndarray
    norm: float
    tokens: int | None
    max_tokens: int | None
    seconds: float | None = None

    @property
    def dims(self) -> int:
        return int(self.vector.shape[0])

    @property
    def truncated(self) -> bool:
        """True when the model only read the first ``max_tokens`` tokens."""
        if self.tokens is None or self.max_tokens is None:
            return False
        return self.tokens > self.max_tokens

    @property
    def stored(self) -> bool:
        """True for a vector read from an uploaded file rather than computed here."""
        return self.tokens is None

    def to_json(self) -> str:
        """The vector as ``{"<text>": [floats]}``, the seed notebooks' import format."""
        return vectors_json([self.text], self.vector)


def embed_text(embedder: Embedder, text: str) -> EmbeddedText:
    """Embed one ``text`` with ``embedder`` and measure it, with the embedding's wall time. A
    local model embeds each text once per process (:func:`core.vectors.embed_once`: later
    calls get that vector and the time it took then); a hosted model is asked each time."""
    vectors, seconds = embed_once(embedder, text)
    vector = vectors[0]
    return EmbeddedText(
        model=embedder.name,
        text=text,
        vector=vector,
        norm=float(np.linalg.norm(vector.astype(np.float64))),
        tokens=embedder.count_tokens(text),
        max_tokens=embedder.max_tokens,
        seconds=seconds,
    )


def stored_text(
    model: str, labels: Sequence[str], vectors: np.ndarray, text: str
) -> EmbeddedText | None:
    """The uploaded vector of item ``text`` (stripped) among ``labels`` (rows of ``vectors``,
    ``(n, d)``) under ``model``, measured; None when the file has no such item (uploaded
    vectors cannot embed new text)."""
    label = text.strip()
    try:
        row = list(labels).index(label)
    except ValueError:
        return None
    vector = np.asarray(vectors[row], dtype=np.float32)
    norm = float(np.linalg.norm(vector.astype(np.float64)))
    return EmbeddedText(model, label, vector, norm, tokens=None, max_tokens=None)


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
