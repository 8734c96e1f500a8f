"""Which embedding models this machine can use right now, by name.

Local models are always listed; they load lazily on first use and are kept for the life of
the process (loading MiniLM reads ~90 MB of weights). Remote models are listed when their
provider is configured in the environment or a ``.env`` file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.embedders.base import Embedder
from core.errors import ExplorerError


def _minilm() -> Embedder:
    from core.embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def _mpnet() -> Embedder:
    from core.embedders.mpnet import MPNetEmbedder

    return MPNetEmbedder()


def _glove() -> Embedder:
    from core.embedders.glove import GloveEmbedder

    return GloveEmbedder()


def _static() -> Embedder:
    from core.embedders.static import StaticEmbedder

    return StaticEmbedder()


LOCAL_FACTORIES: dict[str, Callable[[], Embedder]] = {
    "all-MiniLM-L6-v2": _minilm,
    "all-mpnet-base-v2": _mpnet,
    "static-minilm-256": _static,
    "glove-6b-50d": _glove,
}

_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def _remote() -> dict[str, Embedder]:
    try:
        from core.embedders.remote import configured_remote_embedders
    except ImportError:  # the remote module is optional
        return {}
    return {e.name: e for e in configured_remote_embedders()}


def list_embedders() -> list[str]:
    """Names of every model usable now: local ones first, then configured remote ones."""
    return list(LOCAL_FACTORIES) + sorted(_remote())


def get_embedder(name: str) -> Embedder:
    """The model called ``name``, loaded once per process."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in LOCAL_FACTORIES:
            _loaded[name] = LOCAL_FACTORIES[name]()
            return _loaded[name]
    remote = _remote()
    if name in remote:
        # Keep one client per model, so its connections are reused across calls.
        with _lock:
            return _loaded.setdefault(name, remote[name])
    allowed = ", ".join(list_embedders())
    raise ExplorerError(f"Unknown model {name!r}; available here: {allowed}.")
