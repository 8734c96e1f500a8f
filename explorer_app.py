"""Embeddings Explorer: the entry script. Run with ``streamlit run explorer_app.py``."""

from __future__ import annotations

import streamlit as st

from views import _ui

PAGES = [
    st.Page("views/home.py", title="Home", icon="🧭", default=True),
    st.Page("views/embed.py", title="Embed", icon="🔢"),
    st.Page("views/similarity.py", title="Similarity", icon="📐"),
    st.Page("views/search.py", title="Search", icon="🔎"),
    st.Page("views/metrics.py", title="Metrics", icon="📏"),
    st.Page("views/quantization.py", title="Quantization", icon="🗜️"),
    st.Page("views/mrl.py", title="MRL", icon="🪆"),
]

st.set_page_config(
    page_title="Embeddings Explorer",
    page_icon="🧭",
    layout="wide",
    initial_sidebar_state="collapsed" if _ui.presenting() else "auto",
)
page = st.navigation(PAGES)
_ui.sidebar()
page.run()
