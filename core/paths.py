"""Where the project keeps its data files and its caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"


def cache_dir() -> Path:
    """Root of every on-disk cache: ``$EXPLORER_CACHE_DIR`` or ``<repo>/data/cache``."""
    return Path(os.environ.get("EXPLORER_CACHE_DIR") or DATA_DIR / "cache")
