"""Embeddings Explorer: the entry script. Run with ``streamlit run explorer_app.py``."""

from __future__ import annotations

import streamlit as st

from views import _serving, _state, _ui, _warm
from views.registry import session_pages

st.set_page_config(
    page_title="Embeddings Explorer",
    page_icon="🧭",
    layout="wide",
    initial_sidebar_state="collapsed" if _ui.presenting() else "auto",
)
_warm.warm_up()
_serving.set_up()
page = st.navigation(session_pages())
# Every key the sidebar and the page bind goes into the URL once, when the run ends, even when
# the page stops early (st.stop() raises StopException inside page.run()).
with _state.url_state():
    _ui.sidebar()
    page.run()
