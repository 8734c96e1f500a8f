"""core.talk: the tour's steps, the ?tour= parser and the checks a usable tour passes. That
every step's page, tab and settings exist in the app is checked by opening each step
(tests/test_page_talk.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ExplorerError
from core.talk import TOUR, Step, check_tour, tour_step
from views.registry import PAGES

URL_PATHS = {entry.url_path for entry in PAGES}
# The talk's order, as issue 15 lists it.
TALK_ORDER = [
    "What an embedding is",
    "Similarity",
    "Vector search",
    "Distance metrics",
    "Quantization",
    "MRL",
    "MRL + quantization",
]


def test_the_tour_passes_its_checks_against_the_registry() -> None:
    check_tour(TOUR, URL_PATHS)
    assert 18 <= len(TOUR) <= 26  # "about twenty steps"


def test_sections_follow_the_talk() -> None:
    # Sections in the talk's order, each in one run of consecutive steps.
    runs = [s.section for i, s in enumerate(TOUR) if i == 0 or s.section != TOUR[i - 1].section]
    assert runs == TALK_ORDER


def test_the_talks_own_numbers_are_in_the_steps() -> None:
    by_title = {s.title: s for s in TOUR}
    metrics = by_title["v1 = [1, 2, 3], v2 = [3, 1, 2]"].params
    assert (metrics["met_a"], metrics["met_b"], metrics["met_norm"]) == ("1, 2, 3", "3, 1, 2", "0")
    hnsw = by_title["HNSW: M 16, ef_construction 200, ef 50"].params
    assert (hnsw["search_m"], hnsw["search_efc"], hnsw["search_ef"]) == ("16", "200", "50")
    azure = by_title["Index size in a vector database"].params
    assert (azure["quant_calc_n"], azure["quant_calc_overhead"]) == ("200000", "27.5")
    assert by_title["Storage of one 1536-d vector"].params["quant_calc_dims"] == "1536"


def test_steps_that_need_the_talks_data_say_what_to_do() -> None:
    needs = [s for s in TOUR if s.needs]
    assert {s.title for s in needs} >= {'"queen" in several models', "Full vs truncated ranking"}
    for step in needs:
        assert "sidebar" in step.needs and "Offline" in step.needs


def test_tab_is_the_view_parameter() -> None:
    step = Step("S", "t", "c", "mrl", {"mrl_k": "3", "mrl_view": "One ranking"})
    assert step.tab == "One ranking"
    assert Step("S", "t", "c", "embed", {"embed_text": "dog"}).tab == ""


def test_query_adds_the_position_and_keeps_presenter_mode() -> None:
    step = Step("S", "t", "c", "metrics", {"met_view": "Two vectors"})
    assert step.query(3, presenting=False) == {"met_view": "Two vectors", "tour": "3"}
    assert step.query(3, presenting=True) == {
        "met_view": "Two vectors",
        "tour": "3",
        "present": "1",
    }
    assert step.params == {"met_view": "Two vectors"}  # the step itself is unchanged


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("1", 1), (" 7 ", 7), ("23", 23)])
def test_tour_step_reads_the_url(raw: str | None, expected: int | None) -> None:
    assert tour_step(raw) == expected


@pytest.mark.parametrize("raw", ["0", "24", "-1", "2.5", "seven", ""])
def test_tour_step_refuses_what_is_not_a_step(raw: str) -> None:
    with pytest.raises(ExplorerError, match=f"Tour step {raw!r} does not exist: .* 1 to 23"):
        tour_step(raw)


@given(st.integers(min_value=-50, max_value=80))
def test_tour_step_accepts_exactly_the_step_numbers(n: int) -> None:
    if 1 <= n <= len(TOUR):
        assert tour_step(str(n)) == n
    else:
        with pytest.raises(ExplorerError):
            tour_step(str(n))


def _broken(**changes: object) -> tuple[Step, ...]:
    """The tour with its second step changed."""
    return (TOUR[0], replace(TOUR[1], **changes), *TOUR[2:])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((), "no steps"),
        (_broken(page="graphs"), "Tour step 2 .*page 'graphs' is not one of"),
        (_broken(title=" "), "Tour step 2 .*a title and a one-line caption"),
        (_broken(caption="two\nlines"), "Tour step 2 .*a one-line caption"),
        (_broken(params={"tour": "3"}), "Tour step 2 .*'tour' is not a page's URL key"),
        (_broken(params={"present": "1"}), "'present' is not a page's URL key"),
        (_broken(params={"bad key": "1"}), "'bad key' is not a page's URL key"),
        (_broken(params={"embed_all": True}), r"embed_all=True must be a string"),
        (
            (*TOUR[:4], replace(TOUR[4], section=TOUR[0].section)),
            "Tour step 5 .*section 'What an embedding is' is split in two",
        ),
    ],
)
def test_check_tour_names_what_is_wrong(steps: tuple[Step, ...], message: str) -> None:
    with pytest.raises(ExplorerError, match=message):
        check_tour(steps, URL_PATHS)
