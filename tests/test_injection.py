"""User text stays text: values from a link, an uploaded file's labels and its name never
become markdown links or images, nor HTML inside a chart."""

from __future__ import annotations

import json

import numpy as np

from tests.page_helpers import figures, open_page, plain, show_tab
from views._text import md_code, md_text

EVIL = "http://evil.example"
LINK = f"[click]({EVIL}/)"
IMAGE = f"![x]({EVIL}/i.png)"
HTML_LABEL = f'<a href="{EVIL}/">boom</a>'
SPAN_LABEL = '<span style="font-size:90px">big</span>'


def test_md_text_escapes_every_markdown_construct_and_reads_as_typed() -> None:
    for raw in (
        LINK,
        IMAGE,
        ":red[alarm]",
        ":material/home:",
        "$x^2$",
        "**b** _i_ `c`",
        "<b>",
        "www.x.io a@b.io",
    ):
        escaped = md_text(raw)
        assert plain(escaped) == raw
        # No markdown or HTML opener is left unescaped.
        for mark in "[]()!<>:$*_`":
            assert escaped.count(mark) == escaped.count("\\" + mark)


def test_md_code_fences_any_backticks() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("line\nbreak") == "`line break`"


def test_deep_link_values_are_quoted_as_code() -> None:
    at = open_page("similarity", {"sim_k": LINK, "sim_view": "Neighbours"})
    (warning,) = [w.value for w in at.warning if "sim_k" in w.value]
    assert f"`sim_k={LINK!r}`" in warning


def test_free_text_target_is_escaped_in_captions() -> None:
    at = open_page("similarity", {"sim_target": IMAGE, "sim_view": "Neighbours"})
    captions = [c.value for c in at.caption if "not an item" in plain(c.value)]
    assert captions and IMAGE not in captions[0] and plain(captions[0]).startswith(repr(IMAGE))


def _upload_labels(page: str, view: tuple[str, str]):
    rng = np.random.default_rng(0)
    labels = [HTML_LABEL, SPAN_LABEL, LINK, *(f"item{i}" for i in range(20))]
    data = {label: rng.normal(size=8).round(4).tolist() for label in labels}
    at = open_page(page, {"dataset": "upload", view[0]: view[1]})
    upload = (f"{LINK}.json", json.dumps(data).encode(), "application/json")
    at.sidebar.file_uploader(key="upload_file").set_value(upload).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def test_uploaded_labels_reach_charts_escaped() -> None:
    at = _upload_labels("similarity", ("sim_view", "Map"))
    at = show_tab(at, "sim_view", "Map")
    (fig,) = figures(at)
    drawn = [
        s
        for trace in fig["data"]
        for k in ("text", "hovertext", "name")
        for s in _strings(trace.get(k))
    ]
    assert "&lt;a href=&quot;" not in " ".join(drawn)  # escaped once, quotes kept
    assert any(s == html_escaped(HTML_LABEL) for s in drawn), drawn
    assert not any("<a" in s or "<span" in s for s in drawn)


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_uploaded_file_name_is_escaped_where_it_is_shown() -> None:
    at = _upload_labels("mrl", ("mrl_view", "Recall curves"))
    # The model is named after the file: in metric labels, captions and the chart legend.
    labels = [m.label for m in at.metric if "dims" in m.label]
    assert labels and all(LINK not in label and LINK in plain(label) for label in labels)
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert names and all("[click]" in n for n in names)
