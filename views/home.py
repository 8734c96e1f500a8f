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

# Presenter mode: four links to a row, each page's summary in its tooltip, so that the
# model table (the talk's slide) fits below them on a 1280x720 screen.
big = _ui.presenting()
per_row = 4 if big else 3
pages = [p for p in PAGES if not p.default]
for start in range(0, len(pages), per_row):
    for column, entry in zip(st.columns(per_row), pages[start : start + per_row], strict=False):
        with column:
            st.page_link(
                entry.path,
                label=f"**{entry.title}**",
                icon=entry.icon,
                help=entry.summary if big else None,
            )
            if not big:
                st.caption(entry.summary)

st.subheader("Every model, one table")
_ui.show_models(
    _models.uploaded_rows(_models.uploaded_sets()),
    note="Local models run here on numpy with no network. Hosted models (OpenAI, Azure "
    "OpenAI, GitHub Models, Ollama) appear when configured in the environment or a .env file "
    "(see .env.sample) or added with the sidebar's form; uploaded vector files, one model "
    "each. The talk's models are listed as the facts it quotes; they are not run here.",
)

names = list_embedders()
_ui.code_expander(
    "from core.embedders.registry import get_embedder, list_embedders\n\n"
    f"print(list_embedders())  # {names}\n"
    f"vectors = get_embedder({names[0]!r}).embed(['queen', 'king'])  # float32 (2, dims)\n"
)
