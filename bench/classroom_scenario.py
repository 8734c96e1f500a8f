"""What a student does on each page, as a table shared by the recorder
(``bench.record_classroom``), the replay bench (``bench.bench_classroom``), the cycle count
(``bench.gc_cycles``) and ``tests/test_concurrency.py``.

Each scenario is a deep link (a page and the query parameters it binds) and 4-8 widget
changes, one script run each. ``SCENARIOS["similarity"]`` is the classroom scenario of issue
16 (Neighbours deep link, k slider, a typed target, Spread tab, threshold, Map tab); its
fixture is the one the default bench and the concurrency test replay. The others cover every
other page and tab with cheap changes only: no button that starts a long job (the Engines
build, the scale lab's run, embedding the analogy words) is pressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# How the browser changes a widget: a slider or select slider moves by one key press (one
# change, one rerun), text and number boxes are filled and committed with Enter, a
# selectbox's option, a radio option, a toggle and a tab are clicked.
Kind = Literal["slider", "text", "number", "select", "radio", "toggle", "tab"]
KINDS: tuple[Kind, ...] = ("slider", "text", "number", "select", "radio", "toggle", "tab")


@dataclass(frozen=True)
class Step:
    """One widget change: its name in the tables, the widget's key, the value the server's
    session state (and so the URL) holds afterwards, how the browser makes it, and for a
    slider the key pressed on its thumb."""

    name: str
    key: str
    value: str | int | float | bool
    kind: Kind
    press: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"step {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == "slider") != bool(self.press):
            raise ValueError(f"step {self.name!r}: a slider step, and only one, needs a key press")

    def url_value(self) -> str:
        """The value as the page writes it into the URL (``views._state.publish``: booleans
        as 0/1, everything else as ``str``)."""
        return str(int(self.value)) if isinstance(self.value, bool) else str(self.value)


@dataclass(frozen=True)
class Scenario:
    """A page, the deep link's query parameters, the tab it opens on, and the changes."""

    name: str
    title: str
    path: str
    params: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    # The tab the deep link opens on ("" for a page without tabs): the first step's tab in
    # the per-step tables.
    tab: str = ""

    @property
    def deep_link(self) -> str:
        """``/<path>?k=v&...`` as a student receives it (values percent-encoded)."""
        query = "&".join(f"{k}={quote(v)}" for k, v in self.params)
        return f"/{self.path}" + (f"?{query}" if query else "")

    @property
    def fixture(self) -> Path:
        return FIXTURES / f"{self.name}_session.json"

    def step_names(self) -> list[str]:
        """``open`` (the deep link's run), then each step's name."""
        return ["open", *(s.name for s in self.steps)]

    def tabs(self) -> list[str]:
        """The tab each run shows: the deep link's, then the last tab step's before it."""
        shown, out = self.tab, [self.tab]
        for s in self.steps:
            if s.kind == "tab":
                shown = str(s.value)
            out.append(shown)
        return out


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "home",
            "Home",
            "",
            (("dataset", "words"),),
            (
                Step("dataset", "dataset", "movies", "select"),
                Step("field", "field", "title+description", "radio"),
                Step("field back", "field", "title", "radio"),
                Step("dataset back", "dataset", "words", "select"),
                Step("presenter", "present", True, "toggle"),
            ),
        ),
        Scenario(
            "embed",
            "Embed",
            "embed",
            (("embed_text", "queen"),),
            (
                Step("text", "embed_text", "king", "text"),
                Step("every local off", "embed_all", False, "toggle"),
                Step("sentence", "embed_text", "a loyal dog", "text"),
                Step("every local on", "embed_all", True, "toggle"),
                Step("JSON", "embed_json", True, "toggle"),
            ),
        ),
        Scenario(
            "similarity",
            "Similarity",
            "similarity",
            (("sim_view", "Neighbours"), ("sim_target", "queen"), ("sim_k", "10")),
            (
                Step("k", "sim_k", 11, "slider", "ArrowRight"),
                Step("target", "sim_target", "river", "text"),
                Step("Spread", "sim_view", "Spread", "tab"),
                Step("threshold", "sim_threshold", 0.49, "slider", "ArrowLeft"),
                Step("Map", "sim_view", "Map", "tab"),
            ),
            tab="Neighbours",
        ),
        Scenario(
            "analogies",
            "Similarity",
            "similarity",
            (("sim_view", "Analogies"), ("ana_a", "man"), ("ana_b", "king"), ("ana_c", "woman")),
            (
                Step("c", "ana_c", "girl", "text"),
                Step("b", "ana_b", "prince", "text"),
                Step("Two texts", "sim_view", "Two texts", "tab"),
                Step("second text", "sim_b", "princess", "text"),
                Step("first text", "sim_a", "a royal wedding", "text"),
            ),
            tab="Analogies",
        ),
        Scenario(
            "search",
            "Search",
            "search",
            (("search_view", "3 · Results"), ("search_query", "a loyal dog"), ("search_k", "5")),
            (
                Step("k", "search_k", 6, "slider", "ArrowRight"),
                Step("query", "search_query", "a cat that purrs", "text"),
                Step("2 · Search", "search_view", "2 · Search", "tab"),
                Step("ef", "search_ef", 100, "slider", "ArrowRight"),
                Step("1 · Embed", "search_view", "1 · Embed the query", "tab"),
                Step("Engines", "search_view", "Engines", "tab"),
                Step("engines k", "engines_k", 11, "slider", "ArrowRight"),
                Step("Scale lab", "search_view", "Scale lab", "tab"),
            ),
            tab="3 · Results",
        ),
        Scenario(
            "metrics",
            "Metrics",
            "metrics",
            (("met_view", "Two vectors"), ("met_a", "1, 2, 3"), ("met_b", "3, 1, 2")),
            (
                Step("vector a", "met_a", "1, 0, 2", "text"),
                Step("normalise off", "met_norm", False, "toggle"),
                Step("On real data", "met_view", "On real data", "tab"),
                Step("k", "met_k", 11, "slider", "ArrowRight"),
                Step("target", "met_target", "river", "text"),
                Step("Unit length", "met_view", "Unit length, checked", "tab"),
                Step("raw off", "met_raw", False, "toggle"),
            ),
            tab="Two vectors",
        ),
        Scenario(
            "quantization",
            "Quantization",
            "quantization",
            (("quant_view", "Before and after"), ("quant_target", "queen")),
            (
                Step("binary", "quant_precision", "binary", "radio"),
                Step("Top-k", "quant_view", "Top-k", "tab"),
                Step("k", "quant_k", 11, "slider", "ArrowRight"),
                Step("Oversample", "quant_view", "Oversample and rescore", "tab"),
                Step("factor", "quant_factor", 5, "slider", "ArrowRight"),
                Step("Storage", "quant_view", "Storage", "tab"),
                Step("dims", "quant_calc_dims", 768, "number"),
            ),
            tab="Before and after",
        ),
        Scenario(
            "mrl",
            "MRL",
            "mrl",
            (("mrl_view", "Recall curves"), ("mrl_dims", "64")),
            (
                Step("dims", "mrl_dims", 65, "slider", "ArrowRight"),
                Step("every local off", "mrl_all", False, "toggle"),
                Step("One ranking", "mrl_view", "One ranking", "tab"),
                Step("target", "mrl_target", "river", "text"),
                Step("Full pipeline", "mrl_view", "Full pipeline", "tab"),
                Step("factor", "mrl_factor", 5, "slider", "ArrowRight"),
            ),
            tab="Recall curves",
        ),
    )
}

# The classroom scenario of issue 16, under the names the bench and tests have always used.
CLASSROOM = SCENARIOS["similarity"]
PAGE = CLASSROOM.path
SIMILARITY_PARAMS: dict[str, str] = dict(CLASSROOM.params)
DEEP_LINK = CLASSROOM.deep_link
STEPS = CLASSROOM.steps
