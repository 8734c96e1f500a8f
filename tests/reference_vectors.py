"""The sentence-transformers reference vectors in ``../shared/ref/`` (tests skip without them),
and how closely a local model reproduces them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.embedders.base import Embedder

REF = Path(__file__).resolve().parents[2] / "shared" / "ref"


def load_reference(filename: str) -> dict[str, np.ndarray]:
    """``{text: float64 vector}`` from ``../shared/ref/<filename>``; skips the test when absent."""
    path = REF / filename
    if not path.is_file():
        pytest.skip(f"{path} is absent (no ../shared next to the repo)")
    vectors = json.loads(path.read_text())["vectors"]
    return {text: np.asarray(v, dtype=np.float64) for text, v in vectors.items()}


def worst_cosine(model: Embedder, reference: dict[str, np.ndarray]) -> tuple[str, float]:
    """The reference text ``model`` reproduces least well, and its cosine with the reference."""
    texts = list(reference)
    ours = model.embed(texts).astype(np.float64)
    cosines = {t: float(ours[i] @ reference[t]) for i, t in enumerate(texts)}
    worst = min(cosines, key=cosines.__getitem__)
    return worst, cosines[worst]
