"""AppTest of the Home page: links to every page and the table of models on this machine."""

from __future__ import annotations

from tests.page_helpers import open_page, plain_table, presenter_styled

PAGES = {"embed", "similarity", "search", "metrics", "quantization", "mrl"}


def test_home_links_every_page_and_lists_the_local_models() -> None:
    at = open_page("home")
    links = {el.proto.page for el in at.get("page_link")}
    assert links == PAGES
    assert len(at.caption) >= len(PAGES)
    table = plain_table(at)
    local = table.set_index("model").loc[["static-minilm-256", "all-MiniLM-L6-v2"]]
    assert local["dimensions"].tolist() == ["256", "384"]
    assert local["MRL (truncatable)"].tolist() == ["yes", "no"]
    assert local["runs"].tolist() == ["here (local)", "here (local)"]
    assert local["max input (tokens)"].tolist()[1] == "256"
    assert not local["what it encodes"].str.startswith("⚠️").any()
    assert any(".env.sample" in c.value for c in at.caption)
    code = at.get("code")[0].proto.code_text
    assert "list_embedders()" in code and "static-minilm-256" in code


def test_home_in_presenter_mode_from_a_link() -> None:
    at = open_page("home", {"present": "1"})
    assert at.toggle(key="present").value is True
    assert presenter_styled(at)
    at.toggle(key="present").set_value(False).run()
    assert not at.exception
    assert not presenter_styled(at)
