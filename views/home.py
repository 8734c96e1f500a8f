"""Home: what each page shows, with links, and which models this machine can use now."""

from __future__ import annotations

import streamlit as st

from core.embedders.registry import list_embedders
from views import _models, _ui
from views.registry import PAGES

_ui.page_intro(
    "Embeddings Explorer",
    "An embedding model turns a text into a list of numbers, a vector, so that texts with "
    "similar meaning get vectors that point in similar directions. Each page below makes one "
    "step of that idea visible on real data: pick a dataset and models in the sidebar, then "
    "change the inputs and watch the numbers move.",
)

columns = st.columns(3)
for i, entry in enumerate(p for p in PAGES if not p.default):
    with columns[i % 3]:
        st.page_link(entry.path, label=f"**{entry.title}**", icon=entry.icon)
        st.caption(entry.summary)

st.subheader("Every model, one table")
_ui.show_models(_models.uploaded_rows(_models.uploaded_sets()))
st.caption(
    "Local models run here on numpy with no network. Hosted models (OpenAI, Azure OpenAI, "
    "GitHub Models, Ollama) appear when configured in the environment or a .env file (see "
    ".env.sample) or added with the sidebar's form; uploaded vector files, one model each. "
    "The talk's models are listed as the facts it quotes; they are not run here."
)

names = list_embedders()
_ui.code_expander(
    "from core.embedders.registry import get_embedder, list_embedders\n\n"
    f"print(list_embedders())  # {names}\n"
    f"vectors = get_embedder({names[0]!r}).embed(['queen', 'king'])  # float32 (2, dims)\n"
)
