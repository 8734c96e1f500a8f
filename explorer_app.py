"""Embeddings Explorer: the entry script. Run with ``streamlit run explorer_app.py``."""

from __future__ import annotations

import streamlit as st

from pages import _ui

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🧭", default=True),
    st.Page("pages/embed.py", title="Embed", icon="🔢"),
    st.Page("pages/similarity.py", title="Similarity", icon="📐"),
    st.Page("pages/search.py", title="Search", icon="🔎"),
    st.Page("pages/metrics.py", title="Metrics", icon="📏"),
    st.Page("pages/quantization.py", title="Quantization", icon="🗜️"),
    st.Page("pages/mrl.py", title="MRL", icon="🪆"),
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
