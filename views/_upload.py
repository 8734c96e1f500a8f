"""Your own data in and out: the sidebar's uploads (files, their columns' roles, the dataset and
models they give, embedding uploaded texts with an estimate, progress and Cancel) and the
downloads of the current dataset.

``views._ui`` calls :func:`sidebar_uploads` and :func:`workspace` (which ends with the
sidebar's :func:`dataset_downloads`) and :func:`free_text_notice` under every target box; a
page with its own query box calls :func:`free_text_notice` itself, and a page that draws a
map can offer its coordinates and clusters with ``dataset_downloads(ws, where, coords,
clusters, key=...)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.errors import ExplorerError
from core.exporters import export_parquet, projector_metadata, projector_vectors
from core.io import (
    MAX_BYTES,
    MAX_TEXT_ROWS,
    MAX_VECTOR_ROWS,
    UPLOAD_TYPES,
    Columns,
    ImportedVectors,
    Table,
    Upload,
    combine_uploads,
    guess_columns,
    is_table,
    nearest_labels,
    read_table,
    read_upload,
)
from core.vectors import BATCH, VectorSet, array_digest, embed_dataset, embedding_seconds, is_cached
from views import _ui
from views._text import md_text

NONE = "(none)"
ROLES = ("label", "text", "vector")
ROLE_HELP = {
    "label": "Names each item in tables and plots (default: the text, else the row number).",
    "text": "What a model embeds; with a vector column it is only shown.",
    "vector": "The item's vector (a list of numbers, or a JSON string of one).",
}


# ---------------------------------------------------------------- reading (cached per content)


# cache_resource, not cache_data: the parsed results hold read-only mappings that do not
# pickle, and they are frozen, so sharing one object between sessions is safe.
@st.cache_resource(max_entries=8, show_spinner="Reading the table…")
def _table(name: str, data: bytes) -> Table:
    return read_table(name, data)


@st.cache_resource(max_entries=16, show_spinner="Reading the upload…")
def _parse_upload(
    name: str, data: bytes, meta: bytes | None, meta_name: str | None, columns: Columns | None
) -> tuple[Dataset | ImportedVectors, str]:
    """The file read by ``read_upload`` with these column roles, and a digest of everything
    it was read from (computed once per upload, for the caches built on it)."""
    parsed = read_upload(name, data, meta, columns, meta_name)
    digest = hashlib.blake2b(repr((name, meta_name, columns)).encode(), digest_size=16)
    for part in (data, meta or b""):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return parsed, digest.hexdigest()


@st.cache_resource(max_entries=8, show_spinner=False)
def _combined(key: str, _parts: tuple[Any, ...]) -> tuple[Upload, dict[str, str]]:
    """The uploads (named by ``key``, which says what they hold) as one dataset and its
    models, with each model's content digest (computed once, so caches keyed on it never
    hash the vectors again on a rerun)."""
    upload = combine_uploads(_parts)
    return upload, {m: array_digest(v) for m, v in upload.models.items()}


def _files() -> list[Any]:
    """The uploaded files, in upload order (the widget holds a list, or one file)."""
    value = st.session_state.get("upload_file")
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _role_key(role: str, file: Any) -> str:
    # Per uploaded file: a new upload of the same name starts from the guessed roles again.
    return f"upload_{role}_{file.file_id}"


def _columns_of(file: Any) -> Columns | None:
    """The roles chosen for a table file (None for other files, or before the sidebar ran)."""
    if not all(_role_key(r, file) in st.session_state for r in ROLES):
        return None
    chosen = {r: st.session_state[_role_key(r, file)] for r in ROLES}
    return Columns(**{r: None if v == NONE else str(v) for r, v in chosen.items()})


# ---------------------------------------------------------------- sidebar


def sidebar_uploads(sb: Any) -> None:
    """The upload widgets: vector files or one table, an optional labels file, and for each
    table the roles of its columns (guessed, shown and changeable)."""
    sb.file_uploader(
        "Vector files of the same items, or one table",
        type=list(UPLOAD_TYPES),
        accept_multiple_files=True,
        key="upload_file",
        help=md_text(
            "Vectors: seed JSON {label: [floats]}, .npy, Projector vectors .tsv; several files "
            "of the same items become one model each. Tables (.csv, .tsv, .jsonl, .parquet) "
            "with a vector column or a text column to embed; other columns are kept. "
            f"Up to {MAX_BYTES // 2**20} MB per file, {MAX_VECTOR_ROWS:,} vectors or "
            f"{MAX_TEXT_ROWS:,} texts."
        ),
    )
    sb.file_uploader(
        "Labels for .tsv/.npy vectors (optional)",
        type=["tsv", "txt", "tab"],
        key="upload_meta",
        help="Projector metadata: one label per line, or a header row and then "
        "label<TAB>column… per vector.",
    )
    for file in _files():
        data = file.getvalue()
        if not is_table(file.name, data):
            continue
        try:
            table = _table(file.name, data)
        except ExplorerError:
            continue  # the page says what is wrong with the file
        _role_pickers(sb, file, table)


def _role_pickers(sb: Any, file: Any, table: Table) -> None:
    guess = guess_columns(table)
    options = [NONE, *table.columns]
    for role in ROLES:
        key = _role_key(role, file)
        if key not in st.session_state or st.session_state[key] not in options:
            st.session_state[key] = getattr(guess, role) or NONE
    chosen = " · ".join(
        f"{r} = {st.session_state[_role_key(r, file)]}"
        for r in ROLES
        if st.session_state[_role_key(r, file)] != NONE
    )
    with sb.expander(md_text(f"Columns of {file.name}: {chosen or 'choose'}")):
        kinds = {NONE: "", **{c: f" ({table.kind(c)})" for c in table.columns}}
        for role in ROLES:
            st.selectbox(
                f"{role.capitalize()} column",
                options,
                key=_role_key(role, file),
                format_func=lambda c: f"{c}{kinds[c]}",
                help=ROLE_HELP[role],
            )
        st.caption("Every other column is kept as metadata (colour, hover, filter).")


# ---------------------------------------------------------------- workspace


def workspace(models: list[str]) -> _ui.Workspace:
    """The uploaded files as a dataset and its vectors: each vector file one model; a text
    table embedded by the sidebar's ``models``. Stops the page with a message while there is
    nothing usable (no file, a bad file, labels that differ, no model)."""
    files = _files()
    if not files:
        st.info(
            "Upload files in the sidebar: vectors (seed JSON, .npy, Projector TSV; several "
            "files of the same items compare as models) or a table (CSV, TSV, JSON Lines, "
            "parquet) with a vector or a text column."
        )
        _ui.stop()
    meta = st.session_state.get("upload_meta")
    meta_bytes, meta_name = (meta.getvalue(), meta.name) if meta is not None else (None, None)
    parts, keys = [], []
    for file in files:
        data = file.getvalue()
        columns = _columns_of(file) if is_table(file.name, data) else None
        try:
            part, digest = _parse_upload(file.name, data, meta_bytes, meta_name, columns)
        except ExplorerError as exc:
            st.error(md_text(f"Could not read {file.name}: {exc}"))
            _ui.stop()
        parts.append(part)
        keys.append(digest)
    try:
        upload, digests = _combined("|".join(keys), tuple(parts))
    except ExplorerError as exc:
        st.error(md_text(f"Could not use the uploads together: {exc}"))
        _ui.stop()
    dataset = upload.dataset
    if not upload.models:
        if not models:
            st.info("Choose at least one model in the sidebar to embed your texts.")
            _ui.stop()
        return _ui.Workspace(
            dataset, _ui.vector_sets(dataset, models, lambda m: _text_vectors(dataset, m))
        )
    sets = {
        m: VectorSet(dataset, m, vectors, digest=digests[m]) for m, vectors in upload.models.items()
    }
    return _ui.Workspace(dataset, sets)


# ---------------------------------------------------------------- embedding uploaded texts


@st.cache_resource(show_spinner="Embedding your texts…", max_entries=16)
def _uploaded_text_vectors(
    fingerprint: str, _dataset: Dataset, model: str, version: str
) -> np.ndarray:
    """``_dataset`` (named by its content ``fingerprint``) embedded by the local ``model`` at
    ``version`` (in the key, so a changed model recomputes)."""
    vectors = embed_dataset(_dataset, _ui.registry_model(model))
    vectors.flags.writeable = False
    return vectors


_EMBED_CANCELLED = "upload_embed_cancelled"


@st.cache_data(show_spinner="Timing the model on a sample of your texts…", max_entries=16)
def _embedding_seconds(fingerprint: str, _dataset: Dataset, model: str) -> float:
    return embedding_seconds(_dataset, _ui.registry_model(model))


def _text_vectors(dataset: Dataset, model: str) -> np.ndarray | None:
    """An uploaded text list's vectors under local ``model``: at once when cached or quick;
    otherwise after the user has seen the estimated time and pressed Embed, with a progress
    bar and Cancel. None until then."""
    emb = _ui.registry_model(model)
    quick = len(dataset) <= BATCH or is_cached(dataset, emb)
    seconds = 0.0 if quick else _embedding_seconds(dataset.fingerprint, dataset, model)
    if seconds <= _ui.EMBED_AT_ONCE_SECONDS:
        return _uploaded_text_vectors(dataset.fingerprint, dataset, model, emb.version)
    prompt = st.empty()  # the estimate, the buttons and the bar, cleared once it is done
    with prompt.container():
        st.info(
            md_text(
                f"{model}: {len(dataset):,} texts to embed, about {seconds:,.0f} s on this "
                f"server (timed on a sample). An upload holds at most {MAX_TEXT_ROWS:,} texts."
            )
        )
        c_start, c_cancel = st.columns(2)
        start = c_start.button(
            md_text(f"Embed {len(dataset):,} texts with {model}"),
            key=f"upload_embed_{model}",
            type="primary",
        )
        c_cancel.button(
            "Cancel",
            key=f"upload_cancel_{model}",
            # Any click stops the running embedding at its next batch (Streamlit interrupts
            # the run); the flag tells the next run to say so.
            on_click=lambda: st.session_state.update({_EMBED_CANCELLED: True}),
        )
        if st.session_state.pop(_EMBED_CANCELLED, False) and not start:
            st.warning("Embedding cancelled; nothing was kept.")
        if not start:
            return None
        with _ui.server_job("embedding an upload") as mine:
            if not mine:
                return None
            bar = st.progress(0.0, text=md_text(f"Embedding with {model}…"))

            def on_progress(done: int, total: int) -> None:
                bar.progress(done / total, text=md_text(f"{model}: {done:,} of {total:,} texts"))

            embed_dataset(dataset, emb, on_progress=on_progress)
    prompt.empty()
    return _uploaded_text_vectors(dataset.fingerprint, dataset, model, emb.version)


# ---------------------------------------------------------------- free text and imported models


def free_text_notice(ws: _ui.Workspace, key: str, text: str, model: str | None = None) -> None:
    """Where a query is typed: when ``model`` (default: any model of the workspace) is an
    uploaded one and ``text`` is not an item, say that uploaded vectors cannot embed new
    text and offer the closest items as buttons that put one in the box ``key``."""
    sets = [ws.sets[model]] if model in ws.sets else list(ws.sets.values())
    uploaded = [vs.model for vs in sets if vs.embedder is None]
    if not uploaded or not text.strip() or text.strip() in ws.dataset.labels:
        return
    st.info(
        md_text(
            f"{', '.join(uploaded)} cannot embed new text: uploaded vectors come without their "
            f"model. Type one of the {len(ws.dataset):,} items; the closest by spelling:"
        )
    )
    close = nearest_labels(ws.dataset.labels, text)
    if not close:
        examples = ", ".join(ws.dataset.labels[:3])
        st.caption(md_text(f"No item is spelled like that; e.g. {examples}."))
        return
    for i, (column, label) in enumerate(zip(st.columns(len(close)), close, strict=True)):
        column.button(
            md_text(label),
            key=f"{key}_nearest_{i}",
            on_click=lambda label=label: st.session_state.update({key: label}),
        )


# ---------------------------------------------------------------- downloads


def dataset_downloads(
    ws: _ui.Workspace,
    where: Any = None,
    coords: np.ndarray | None = None,
    clusters: Sequence[int] | np.ndarray | None = None,
    key: str = "download",
) -> None:
    """Download buttons for the current dataset under one of its models: the Projector TSV
    pair and a parquet file (with the map's ``coords`` and ``clusters`` when a page passes
    them). Files are written only when a button is pressed."""
    where = where or st.sidebar.expander("Download this dataset")
    with where:
        model = ws.models[0]
        if len(ws.models) > 1:
            model = str(st.selectbox("Vectors of", ws.models, key=f"{key}_model"))
        vs = ws.sets[model]
        stem = _ui.file_stem(f"{ws.dataset.name}_{model}")
        st.download_button(
            "Projector vectors.tsv",
            lambda: projector_vectors(vs.vectors),
            file_name=f"{stem}_vectors.tsv",
            mime="text/tab-separated-values",
            key=f"{key}_vectors",
            on_click="ignore",
        )
        st.download_button(
            "Projector metadata.tsv",
            lambda: projector_metadata(vs.dataset),
            file_name=f"{stem}_metadata.tsv",
            mime="text/tab-separated-values",
            key=f"{key}_metadata",
            on_click="ignore",
            help="Load both files at projector.tensorflow.org.",
        )
        st.download_button(
            "Parquet (labels, metadata, vectors)",
            lambda: export_parquet(vs.dataset, vs.vectors, coords, clusters),
            file_name=f"{stem}.parquet",
            mime="application/vnd.apache.parquet",
            key=f"{key}_parquet",
            on_click="ignore",
        )
