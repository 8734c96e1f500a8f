"""Embeddings Explorer: the entry script. Run with ``streamlit run explorer_app.py``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Embeddings Explorer", page_icon="🧭", layout="wide")
st.title("Embeddings Explorer")
st.write("See what an embedding is, how similar two texts are, and how vector search works.")
