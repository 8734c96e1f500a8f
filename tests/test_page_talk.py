"""The talk in AppTest: every step of the tour opens its page and tab with each of its
settings taken by the page (so every step's page, tab and URL keys exist), the tour bar moves
between steps and keeps presenter mode, and the talk page starts or jumps into the tour."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.talk import TOUR
from tests.page_helpers import APP, open_page, plain, presenter_styled, texts
from views.registry import PAGES

TITLES = {e.url_path: e.title for e in PAGES} | {"": "Embeddings Explorer"}


def open_step(number: int, **params: str | list[str]) -> AppTest:
    """Open ``?tour=<number>`` (plus ``params``) on Home, as a shared link would."""
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["tour"] = str(number)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def url_form(value: object) -> str:
    """A session value as ``_state.publish`` writes it into the URL."""
    return str(int(value)) if isinstance(value, bool) else str(value)


def bar_text(at: AppTest) -> str:
    """The tour bar's line (the first markdown that holds the step counter)."""
    return next(m.value for m in at.markdown if f" / {len(TOUR)}**" in m.value)


@pytest.mark.parametrize("number", range(1, len(TOUR) + 1))
def test_every_step_opens_its_page_and_tab_with_its_settings(number: int) -> None:
    step = TOUR[number - 1]
    at = open_step(number)
    assert at.title[0].value == TITLES[step.page]
    for key, value in step.params.items():
        assert key in at.session_state, f"step {number}: the page never read {key!r}"
        assert url_form(at.session_state[key]) == value, (number, key)
    assert "Ignored the link" not in "\n".join(w.value for w in at.warning)
    assert at.query_params["tour"] == str(number)
    assert bar_text(at).startswith(f"**{number} / {len(TOUR)}**")
    assert (at.get("popover") != []) == bool(step.needs)


def test_next_and_previous_walk_the_tour_in_presenter_mode() -> None:
    at = open_step(1, present="1")
    assert at.button(key="tour_prev").disabled and not at.button(key="tour_next").disabled
    at.button(key="tour_next").click().run()
    assert not at.exception
    assert at.query_params["tour"] == "2" and at.query_params["present"] == "1"
    assert at.session_state["embed_text"] == "queen" and presenter_styled(at)
    at.button(key="tour_prev").click().run()
    assert at.query_params["tour"] == "1" and at.session_state["embed_text"] == "dog"
    assert presenter_styled(at)


def test_the_last_step_has_no_next() -> None:
    at = open_step(len(TOUR))
    assert at.button(key="tour_next").disabled and not at.button(key="tour_prev").disabled


def test_a_step_resets_its_own_settings_and_keeps_the_users_other_choices() -> None:
    at = open_step(5)  # Similarity, Neighbours, k = 10
    at.slider(key="sim_k").set_value(3).run()
    at.sidebar.multiselect(key="models").set_value(["all-MiniLM-L6-v2"]).run()
    at.button(key="tour_next").click().run()
    at.button(key="tour_prev").click().run()
    assert not at.exception
    assert at.session_state["sim_k"] == 10
    assert at.session_state["models"] == ["all-MiniLM-L6-v2"]


def test_a_shared_step_link_keeps_its_other_settings_and_the_step_wins_its_own() -> None:
    # Step 7 sets the query and the tab; k and the models come from the link.
    at = open_step(
        7, search_k="3", search_query="a cat", models=["all-MiniLM-L6-v2", "glove-6b-50d"]
    )
    assert at.title[0].value == "Search"
    assert at.session_state["search_k"] == 3 and at.session_state["search_query"] == "a loyal dog"
    assert at.session_state["models"] == ["all-MiniLM-L6-v2", "glove-6b-50d"]


def test_widgets_inside_a_step_keep_the_bar() -> None:
    at = open_step(11)  # Metrics, two vectors
    at.text_input(key="met_a").input("2, 2, 1").run()
    assert not at.exception
    assert at.query_params["tour"] == "11" and at.query_params["met_a"] == "2, 2, 1"
    assert bar_text(at).startswith("**11 / ")


@pytest.mark.parametrize("raw", ["0", "99", "next"])
def test_a_step_that_does_not_exist_is_named_and_the_page_still_shows(raw: str) -> None:
    at = open_page("metrics", {"tour": raw})
    assert any(f"Tour step '{raw}' does not exist" in plain(w.value) for w in at.warning)
    assert at.title[0].value == "Metrics"
    assert "tour_next" not in [b.key for b in at.button]  # no bar


def test_the_talk_page_lists_every_step() -> None:
    at = open_page("talk")
    table = at.dataframe[0].value
    assert list(table["step"]) == list(range(1, len(TOUR) + 1))
    assert list(table["slide"]) == [s.title for s in TOUR]
    assert table.loc[table["slide"] == "HNSW: M 16, ef_construction 200, ef 50", "tab"].item() == (
        "2 · Search"
    )
    assert sum(table["talk data"] != "") == sum(bool(s.needs) for s in TOUR)
    assert "peliculas" in texts(at)


def test_the_talk_page_starts_the_tour() -> None:
    at = open_page("talk")
    at.button(key="talk_start").click().run()
    assert not at.exception
    assert at.title[0].value == "Embed" and at.query_params["tour"] == "1"


def test_the_talk_page_jumps_to_a_chosen_step_from_a_link() -> None:
    at = open_page("talk", {"talk_step": "10", "present": "1"})
    assert presenter_styled(at)
    at.button(key="talk_open").click().run()
    assert not at.exception
    assert at.title[0].value == "Search" and at.query_params["tour"] == "10"
    assert at.session_state["search_efc"] == 200 and at.query_params["present"] == "1"
