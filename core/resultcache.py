"""Results of slow sweeps (recall curves, pipeline sweeps), kept on disk by content.

A result is a list of frozen dataclass rows of numbers and ``str`` Enums, stored as one JSON
file ``<cache>/results/<kind>-<digest>.json``. The digest covers everything the rows depend
on: the input matrix (its dtype, shape and bytes, as :func:`core.vectors.array_digest`), every
parameter, and the source code of the modules that compute it. A changed dataset, model
version, setting or algorithm therefore gives another file name and the rows are computed
again; nothing has to be bumped by hand. A file that cannot be read or decoded is recomputed
and rewritten.

Files are private (mode 0600, directory 0700) and the directory is bounded by
:data:`MAX_BYTES`, least recently used files first (see :mod:`core.diskcache`); a result is a
few kilobytes, so the bound only matters on a server that has seen many uploads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from core import diskcache
from core.errors import ExplorerError
from core.paths import cache_dir
from core.vectors import array_digest

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)

T = TypeVar("T", bound="DataclassInstance")

# Bytes of result files kept (least recently used go first).
MAX_BYTES = 32 << 20
_KIND = re.compile(r"[a-z][a-z0-9-]*")


def results_dir(root: Path | None = None) -> Path:
    """Where results live: ``<root>/results``, ``root`` defaulting to the cache directory."""
    return (root or cache_dir()) / "results"


def code_digest(modules: Iterable[ModuleType]) -> str:
    """32 hex digits of BLAKE2b over the source files of ``modules``, in the order given."""
    h = hashlib.blake2b(digest_size=16)
    for module in modules:
        source = getattr(module, "__file__", None)  # None for built-in modules
        if source is None:
            raise ExplorerError(f"Module {module.__name__} has no source file to digest.")
        h.update(module.__name__.encode())
        h.update(Path(source).read_bytes())
    return h.hexdigest()


def result_digest(vectors: np.ndarray, params: Mapping[str, Any], code: str) -> str:
    """32 hex digits naming a result of ``vectors`` computed with ``params`` (JSON-able values)
    by code whose :func:`code_digest` is ``code``."""
    described = json.dumps(
        {"vectors": array_digest(vectors), "params": params, "code": code}, sort_keys=True
    )
    return hashlib.blake2b(described.encode(), digest_size=16).hexdigest()


def result_path(kind: str, digest: str, root: Path | None = None) -> Path:
    """The file of result ``kind`` (lower-case letters, digits, ``-``) named ``digest``."""
    if not _KIND.fullmatch(kind):
        raise ExplorerError(f"Result kind {kind!r}: use lower-case letters, digits and '-'.")
    return results_dir(root) / f"{kind}-{digest}.json"


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as JSON to ``path`` in one step (a temporary file, then a rename), so a
    reader never sees half a file; then bound the directory."""
    diskcache.private_dir(path.parent)
    # mkstemp creates the file 0600; the "." prefix marks a write in progress for evict().
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(rows, out)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    diskcache.evict(path.parent, MAX_BYTES, keep=path.stem)


def _read(path: Path, decode: Callable[[dict[str, Any]], T]) -> list[T] | None:
    """The rows in ``path`` decoded, or None when it is missing or does not decode."""
    try:
        raw = json.loads(path.read_text())
        rows = [decode(row) for row in raw]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("Ignoring unreadable result %s: %s", path, exc)
        return None
    diskcache.touch(path)  # its last use, for least-recently-used eviction
    return rows


def cached_rows(
    kind: str,
    vectors: np.ndarray,
    params: Mapping[str, Any],
    modules: Iterable[ModuleType],
    compute: Callable[[], list[T]],
    decode: Callable[[dict[str, Any]], T],
    root: Path | None = None,
) -> list[T]:
    """The rows ``compute()`` returns for ``vectors`` and ``params``, read from the disk cache
    when a run of the same ``modules``' code stored them before, else computed and stored.

    ``compute`` returns frozen dataclasses; ``decode`` rebuilds one from its
    ``dataclasses.asdict`` form (JSON turns ``str`` Enums into their values). A cache that
    cannot be written (a read-only disk) only costs the next caller the computation again.
    """
    path = result_path(kind, result_digest(vectors, params, code_digest(modules)), root)
    rows = _read(path, decode)
    if rows is not None:
        return rows
    rows = compute()
    try:
        _write(path, [dataclasses.asdict(row) for row in rows])
    except OSError as exc:
        log.warning("Could not cache %s in %s: %s", kind, path.parent, exc)
    return rows
