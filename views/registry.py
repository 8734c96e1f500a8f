"""The app's pages, written once: the entry script builds its navigation from this list and
Home links to every page in it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

# Where a session keeps its ``st.Page`` objects (see ``session_pages``).
_PAGES_KEY = "_registry_pages"


@dataclass(frozen=True)
class PageEntry:
    """One page: its script, its title and icon in the navigation, the sentence Home shows
    under its link, and its URL path (the file name; Home, the default page, is the root)."""

    path: str
    title: str
    icon: str
    summary: str
    url_path: str
    default: bool = False

    def page(self) -> st.Page:
        """The ``st.Page`` that ``st.navigation`` runs."""
        if self.default:
            return st.Page(self.path, title=self.title, icon=self.icon, default=True)
        return st.Page(self.path, title=self.title, icon=self.icon, url_path=self.url_path)


# Emoji icons, not ``:material/...``: those make the browser fetch a font from a CDN.
PAGES = (
    PageEntry(
        "views/home.py",
        "Home",
        "🧭",
        "What each page shows, and which models this machine can use now.",
        "",
        default=True,
    ),
    PageEntry(
        "views/talk.py",
        "The talk",
        "🎤",
        "The talk, one step per slide: each step opens a page and tab with its settings; "
        "Previous/Next (or the arrow keys) move through it.",
        "talk",
    ),
    PageEntry(
        "views/embed.py",
        "Embed",
        "🔢",
        "Text in, vector out: dimensions, norm, tokens and every value as a bar, for two or "
        "three models side by side.",
        "embed",
    ),
    PageEntry(
        "views/similarity.py",
        "Similarity",
        "📐",
        "Cosine similarity of two texts, a target's most and least similar items, how "
        "similarities spread per model, and a 2-D/3-D map of the dataset.",
        "similarity",
    ),
    PageEntry(
        "views/search.py",
        "Search",
        "🔎",
        "A query's k nearest items: exact (exhaustive) against approximate (HNSW), with "
        "times and recall@k.",
        "search",
    ),
    PageEntry(
        "views/metrics.py",
        "Metrics",
        "📏",
        "Euclidean, manhattan, dot and cosine on small vectors you edit, then on real data: "
        "when do they rank items the same way?",
        "metrics",
    ),
    PageEntry(
        "views/quantization.py",
        "Quantization",
        "🗜️",
        "int8 and binary vectors: bytes saved, rankings kept, and oversample-and-rescore "
        "winning recall back.",
        "quantization",
    ),
    PageEntry(
        "views/mrl.py",
        "MRL",
        "🪆",
        "Keep only the first dimensions: fine for models trained for it (Matryoshka), costly "
        "for others.",
        "mrl",
    ),
)


def session_pages() -> list[st.Page]:
    """This session's ``st.Page`` for every entry, made on its first run and kept: making
    them resolves every page's script path on disk, which took about a tenth of each rerun's
    samples in a profile of 20 sessions changing Similarity's Spread tab. Kept per session,
    not per server: ``st.navigation`` marks the page it returns as
    the one that may run, and a page shared with another session running at the same time
    could lose that mark before it runs."""
    pages = st.session_state.get(_PAGES_KEY)
    if pages is None:
        pages = st.session_state[_PAGES_KEY] = [entry.page() for entry in PAGES]
    return pages
