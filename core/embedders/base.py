"""The one interface every embedding model implements, local or remote."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from core.errors import ExplorerError


class Embedder(ABC):
    """A text embedding model.

    Attributes:
        name: registry name, e.g. ``"all-MiniLM-L6-v2"``.
        dims: length of every output vector.
        normalized: whether outputs are unit length.
        supports_mrl: whether the leading dimensions carry the most information, so that
            truncating and re-normalising keeps rankings (Matryoshka / PCA-ordered).
        max_tokens: longest input in tokens; longer inputs are truncated.
        description: one line on what the model encodes, for the model table.
        local: True when it runs on this machine with no network.
        version: bumped when the model's outputs change, so cached vectors are recomputed.
    """

    name: str
    dims: int
    normalized: bool = True
    supports_mrl: bool = False
    max_tokens: int = 256
    description: str = ""
    local: bool = True
    version: str = "1"

    def embed(self, texts: Sequence[str] | str) -> np.ndarray:
        """Embed ``texts``; always returns float32 of shape ``(len(texts), dims)``."""
        items = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise ExplorerError(f"Text {i} is {type(t).__name__}, not a string.")
            if not t.strip():
                raise ExplorerError(f"Text {i} is empty: type a word or a sentence.")
        if not items:
            return np.zeros((0, self.dims), dtype=np.float32)
        out = np.asarray(self._embed(items), dtype=np.float32)
        if out.shape != (len(items), self.dims):
            raise ExplorerError(
                f"{self.name} returned shape {out.shape}, expected ({len(items)}, {self.dims})."
            )
        return out

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed a non-empty list of non-blank strings, shape ``(len(texts), dims)``."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` uses in this model (a whitespace estimate unless overridden)."""
        return len(text.split())

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` the model has no vector for and skipped (a word-vector model);
        none for models that split unknown words into known pieces."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dims={self.dims})"
