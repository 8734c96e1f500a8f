"""Bounds on the on-disk caches: a size limit with least-recently-used eviction, private modes.

``<cache>/vectors`` holds one entry per (dataset, model): ``<stem>.npy`` and its manifest
``<stem>.json``, removed together. Writing or loading an entry sets its mtime, so the newest
mtime of its files is its last use. After each write, :func:`evict` scans the directory once
and removes the least recently used entries until the total is within the limit. Never removed:
pinned entries (the bundled datasets' vectors; they still count toward the total), the entry
just written, and entries changed in the last minute (another process may be writing them), so
the directory can stay over the limit by that much. Temporary files (``.``-prefixed) are left
alone unless older than an hour (a killed writer's leftovers).

Limits, read from the environment when a cache is written:

- ``EXPLORER_CACHE_MAX_BYTES``: bytes of ``<cache>/vectors`` (default 1 GiB = 1073741824).
- ``EXPLORER_REMOTE_CACHE_MAX_BYTES``: bytes of vector data in the remote embeddings database
  ``<cache>/remote/embeddings.sqlite3`` (default 256 MiB = 268435456; see ``core.embedcache``).

The distilled static model (``<cache>/static-minilm-256``) lives outside ``vectors`` and is
never evicted. Cache files are created with mode 0600 and cache directories with 0700: a
classroom server is shared by many users, and their uploads are nobody else's business.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAX_BYTES_ENV = "EXPLORER_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30
REMOTE_MAX_BYTES_ENV = "EXPLORER_REMOTE_CACHE_MAX_BYTES"
DEFAULT_REMOTE_MAX_BYTES = 256 << 20
# Files of an entry changed this recently (s) may belong to a write still in progress.
MIN_AGE_S = 60.0
# A temporary file this old (s) was left by a writer that died.
STALE_TEMP_S = 3600.0
SUFFIXES = (".npy", ".json")


def limit_from_env(name: str, default: int) -> int:
    """The byte limit in environment variable ``name`` (an integer >= 0), else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        log.warning("%s=%r is not a byte count (an integer >= 0); using %d", name, raw, default)
        return default
    return value


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700; existing ones are left as is."""
    missing: list[Path] = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first
            pass
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; narrow an existing file to 0600."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        if os.name == "posix" and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError as exc:  # e.g. a file owned by another user: still usable, just wider
        log.warning("Could not make %s private: %s", path, exc)
    finally:
        os.close(fd)


def touch(path: Path) -> None:
    """Mark ``path`` as used now (its atime and mtime); a failure is only logged."""
    try:
        os.utime(path)
    except OSError as exc:
        log.debug("Could not mark %s as used: %s", path, exc)


@dataclass(frozen=True)
class Eviction:
    """What :func:`evict` did: ``removed`` entry stems (oldest first), bytes ``freed``, and the
    bytes ``left`` in the directory afterwards."""

    removed: tuple[str, ...]
    freed: int
    left: int


@dataclass
class _Entry:
    size: int = 0  # bytes
    used: float = 0.0  # newest mtime of its files, s since the epoch
    files: list[str] = field(default_factory=list)


def _scan(directory: Path, now: float) -> dict[str, _Entry]:
    entries: dict[str, _Entry] = {}
    try:
        items = list(os.scandir(directory))
    except FileNotFoundError:
        return entries
    for item in items:
        try:
            if not item.is_file(follow_symlinks=False):
                continue
            stat = item.stat(follow_symlinks=False)
            if item.name.startswith("."):
                if now - stat.st_mtime > STALE_TEMP_S:
                    os.unlink(item.path)
                    log.info("Removed stale temporary cache file %s", item.path)
                continue
        except FileNotFoundError:  # removed by another process mid-scan
            continue
        stem, suffix = os.path.splitext(item.name)
        if suffix not in SUFFIXES:
            continue
        entry = entries.setdefault(stem, _Entry())
        entry.size += stat.st_size
        entry.used = max(entry.used, stat.st_mtime)
        entry.files.append(item.path)
    return entries


def evict(
    directory: Path,
    max_bytes: int,
    keep: str | None = None,
    pinned: Callable[[str], bool] = lambda stem: False,
    min_age: float | None = None,
) -> Eviction:
    """Remove least recently used entries of ``directory`` until it holds at most ``max_bytes``.

    An entry is the ``.npy`` and ``.json`` files sharing a stem. ``keep`` (the stem just
    written), stems for which ``pinned(stem)`` is true, and entries changed less than
    ``min_age`` seconds ago (default :data:`MIN_AGE_S`) are never removed. Safe to run in
    several processes at once: files that vanish meanwhile are skipped.
    """
    min_age = MIN_AGE_S if min_age is None else min_age
    now = time.time()
    entries = _scan(directory, now)
    total = sum(e.size for e in entries.values())
    removed: list[str] = []
    freed = 0
    candidates = sorted(
        (e.used, stem)
        for stem, e in entries.items()
        if stem != keep and now - e.used >= min_age and not pinned(stem)
    )
    for _, stem in candidates:
        if total - freed <= max_bytes:
            break
        entry = entries[stem]
        for file in entry.files:
            try:
                os.unlink(file)
            except FileNotFoundError:
                pass
        freed += entry.size
        removed.append(stem)
        log.info(
            "Evicted %s from %s (%.1f MB, last used %.1f h ago)",
            stem,
            directory,
            entry.size / 1e6,
            (now - entry.used) / 3600,
        )
    left = total - freed
    if left > max_bytes:
        log.info(
            "%s holds %.1f MB, over its %.1f MB limit, in entries that are pinned or in use",
            directory,
            left / 1e6,
            max_bytes / 1e6,
        )
    return Eviction(tuple(removed), freed, left)
