"""Home: what each page shows, with links, and which models this machine can use now."""

from __future__ import annotations

import streamlit as st

from core.embedders.registry import list_embedders
from views import _ui

PAGES = [
    (
        "views/embed.py",
        "Embed",
        "🔢",
        "Text in, vector out: dimensions, norm, tokens and every value as a bar, for two or "
        "three models side by side.",
    ),
    (
        "views/similarity.py",
        "Similarity",
        "📐",
        "Cosine similarity of two texts, a target's most and least similar items, how "
        "similarities spread per model, and a 2-D/3-D map of the dataset.",
    ),
    (
        "views/search.py",
        "Search",
        "🔎",
        "A query's k nearest items: exact (exhaustive) against approximate (HNSW), with "
        "times and recall@k.",
    ),
    (
        "views/metrics.py",
        "Metrics",
        "📏",
        "Euclidean, manhattan, dot and cosine on small vectors you edit, then on real data: "
        "when do they rank items the same way?",
    ),
    (
        "views/quantization.py",
        "Quantization",
        "🗜️",
        "int8 and binary vectors: bytes saved, rankings kept, and oversample-and-rescore "
        "winning recall back.",
    ),
    (
        "views/mrl.py",
        "MRL",
        "🪆",
        "Keep only the first dimensions: fine for models trained for it (Matryoshka), costly "
        "for others.",
    ),
]

_ui.page_intro(
    "Embeddings Explorer",
    "An embedding model turns a text into a list of numbers, a vector, so that texts with "
    "similar meaning get vectors that point in similar directions. Each page below makes one "
    "step of that idea visible on real data: pick a dataset and models in the sidebar, then "
    "change the inputs and watch the numbers move.",
)

columns = st.columns(3)
for i, (path, title, icon, text) in enumerate(PAGES):
    with columns[i % 3]:
        st.page_link(path, label=f"**{title}**", icon=icon)
        st.caption(text)

st.subheader("Models on this machine")
names = list_embedders()
_ui.show_models(names)
st.caption(
    "Local models run here on numpy with no network. Remote models (OpenAI, Azure OpenAI, "
    "GitHub Models, Ollama) appear when configured in the environment or a .env file; see "
    ".env.sample."
)

_ui.code_expander(
    "from core.embedders.registry import get_embedder, list_embedders\n\n"
    f"print(list_embedders())  # {names}\n"
    f"vectors = get_embedder({names[0]!r}).embed(['queen', 'king'])  # float32 (2, dims)\n"
)
