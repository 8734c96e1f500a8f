"""AppTest of the Home page: links to every page and the table of every model the app knows."""

from __future__ import annotations

import json

from tests.page_helpers import open_page, presenter_styled
from views import registry

PAGES = {"embed", "similarity", "search", "metrics", "quantization", "mrl"}


def test_home_links_every_page_and_lists_every_model() -> None:
    at = open_page("home")
    links = {el.proto.page for el in at.get("page_link")}
    assert PAGES <= links
    assert len(at.caption) >= len(PAGES)
    table = at.dataframe[0].value.set_index("model")
    local = table.loc[["static-minilm-256", "all-MiniLM-L6-v2"]]
    assert local["dimensions"].tolist() == ["256", "384"]
    assert local["MRL (truncatable)"].tolist() == ["yes", "no"]
    assert local["runs"].tolist() == ["here (numpy, no network)"] * 2
    assert local["max input (tokens)"].tolist()[1] == "256"
    assert (table[table["kind"] == "local"]["runs"] != "cannot load here").all()
    talk = table[table["kind"] == "reference (the talk)"]
    assert talk["MTEB avg"].tolist() == ["–", "–", "61.0 %", "62.3 %", "64.6 %"]
    assert any(".env.sample" in c.value for c in at.caption)
    code = at.get("code")[0].proto.code_text
    assert "list_embedders()" in code and "static-minilm-256" in code


def test_home_in_presenter_mode_from_a_link() -> None:
    at = open_page("home", {"present": "1"})
    assert at.toggle(key="present").value is True
    assert presenter_styled(at)
    assert "encodes" not in at.dataframe[0].value.columns
    # Four links to a row with each summary in its tooltip; the note in the expander.
    links = at.get("page_link")
    assert PAGES <= {el.proto.page for el in links}
    assert all(el.proto.help for el in links)
    notes = [c for c in at.main.caption if ".env.sample" in c.value]
    (models,) = [e for e in at.expander if e.label == "What each model is"]
    assert [c.value for c in models.caption] == [c.value for c in notes] != []
    at.toggle(key="present").set_value(False).run()
    assert not at.exception
    assert not presenter_styled(at)
    assert "encodes" in at.dataframe[0].value.columns


def test_an_uploaded_vector_file_is_a_row_of_the_table() -> None:
    data = {"queen": [0.6, 0.8, 0.0], "king": [0.0, 1.0, 0.0]}
    at = open_page("home", {"dataset": "upload"})
    upload = ("ada.json", json.dumps(data).encode(), "application/json")
    at.sidebar.file_uploader(key="upload_file").set_value([upload]).run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    row = table[table["kind"] == "uploaded"].iloc[0]
    assert "ada.json" in row["model"]
    assert (row["dimensions"], row["unit length"]) == ("3", "yes")


def test_a_session_makes_its_pages_once_and_keeps_them_to_itself():
    a, b = open_page("home"), open_page("home")
    made = a.session_state[registry._PAGES_KEY]
    a.switch_page("views/embed.py")
    a.run()
    assert not a.exception, [e.message for e in a.exception]
    assert a.session_state[registry._PAGES_KEY] is made
    assert b.session_state[registry._PAGES_KEY] is not made
