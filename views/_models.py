"""Models as the pages that list or embed with every model (Home, Embed) show them: each file
of the sidebar's upload is one model over the same items."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.models_table import ModelRow, uploaded_row
from core.vectors import VectorSet
from views import _ui


def uploaded_sets() -> dict[str, VectorSet]:
    """The sidebar's uploaded vector files, one model each: none unless the dataset is an
    upload with files in it (a file that cannot be read stops the page with its error, as
    on every page)."""
    if st.session_state.get("dataset") != _ui.UPLOAD or not st.session_state.get("upload_file"):
        return {}
    return {m: vs for m, vs in _ui.workspace().sets.items() if vs.embedder is None}


@st.cache_data(max_entries=32, show_spinner=False)
def _row(key: str, model: str, _vectors: np.ndarray) -> ModelRow:
    """The table row of an uploaded model; ``key`` is its vectors' content key."""
    return uploaded_row(model, _vectors)


def uploaded_rows(sets: dict[str, VectorSet]) -> list[ModelRow]:
    """The model table's rows for uploaded ``sets`` (measured once per content)."""
    return [_row(vs.key, m, vs.vectors) for m, vs in sets.items()]
