"""The classroom bench's pure parts: the scenario table against the pages' sources, the
recorded fixtures against the table, the recorder's naming of what the browser sent, the
checks of a replayed run, and the tables it prints; then (slow) every fixture replayed once
on a real server. No timings: the numbers in the table tests are made up."""

from __future__ import annotations

import ast
import base64
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.bench_classroom import (
    NewcomerResult,
    StepRow,
    fragment_problems,
    newcomer_table,
    pages_summary,
    pages_table,
    recording_problems,
    run_problems,
    scenario_rows,
    server_options,
)
from bench.classroom_client import (
    Recording,
    ReplaySession,
    RunResult,
    StreamlitServer,
    parse_flags,
    widget_key,
    with_values,
)
from bench.classroom_scenario import (
    CLASSROOM,
    DEEP_LINK,
    SCENARIOS,
    STEPS,
    Scenario,
    Step,
)
from bench.record_classroom import fixture_content
from tests.event_loop import run_in_own_thread
from views.registry import PAGES

REPO = Path(__file__).resolve().parents[1]
VIEWS_SOURCE = "\n".join(p.read_text() for p in sorted((REPO / "views").glob("*.py")))


def _tab_labels(script: str) -> tuple[str, ...]:
    """The ``VIEWS = (...)`` tuple of tab labels a page script defines (none: no tabs)."""
    for node in ast.parse((REPO / script).read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "VIEWS" for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            return tuple(ast.literal_eval(node.value))
    return ()


def _is_key(key: str) -> bool:
    """``key`` is written in a page's source: whole (``"sim_k"``), or as a prefix that a
    shared helper completes (``_ui.target_controls("met", ws)`` binds ``f"{prefix}_k"``)."""
    prefix, _, suffix = key.rpartition("_")
    return f'"{key}"' in VIEWS_SOURCE or (
        f'"{prefix}"' in VIEWS_SOURCE and f'{{prefix}}_{suffix}"' in VIEWS_SOURCE
    )


# ---------------------------------------------------------------- the scenario table


def test_every_page_and_tab_has_a_scenario() -> None:
    """Each page but the talk (which drives the others) is a scenario's page, and each of its
    tabs is shown by one of its scenarios' runs."""
    for entry in PAGES:
        if entry.url_path == "talk":
            continue
        mine = [s for s in SCENARIOS.values() if s.title == entry.title]
        assert mine, f"no scenario for {entry.title}"
        assert all(s.path == entry.url_path for s in mine)
        shown = {tab for s in mine for tab in s.tabs()}
        missing = set(_tab_labels(entry.path)) - shown
        assert not missing, f"{entry.title}: no scenario shows {sorted(missing)}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_steps_are_keyed_widgets_of_the_pages(name: str) -> None:
    scenario = SCENARIOS[name]
    assert scenario.name == name
    assert 4 <= len(scenario.steps) <= 8
    assert len(set(scenario.step_names())) == len(scenario.steps) + 1
    for key, _ in scenario.params:
        assert _is_key(key), f"{name}: the deep link's {key!r} is no page key"
    for step in scenario.steps:
        assert _is_key(step.key), f"{name}: {step.key!r} is no widget key"
    if scenario.tab:
        tabs = _tab_labels(next(p.path for p in PAGES if p.title == scenario.title))
        assert set(scenario.tabs()) <= set(tabs)


def test_deep_links_parse_back_to_their_parameters() -> None:
    search = SCENARIOS["search"]
    link = urlsplit(search.deep_link)
    assert link.path == "/search"
    assert "3%20%C2%B7%20Results" in link.query  # "3 · Results", encoded
    assert {k: v[0] for k, v in parse_qs(link.query).items()} == dict(search.params)
    assert SCENARIOS["home"].deep_link == "/?dataset=words"
    assert Scenario("x", "X", "x", (), ()).deep_link == "/x"


def test_the_classroom_scenario_keeps_its_names() -> None:
    """The default bench, bench.gc_cycles and tests/test_concurrency.py replay these."""
    assert CLASSROOM is SCENARIOS["similarity"]
    assert DEEP_LINK == "/similarity?sim_view=Neighbours&sim_target=queen&sim_k=10"
    assert [s.name for s in STEPS] == ["k", "target", "Spread", "threshold", "Map"]
    assert CLASSROOM.fixture.name == "similarity_session.json"
    assert CLASSROOM.tabs() == ["Neighbours"] * 3 + ["Spread"] * 2 + ["Map"]


def test_step_values_as_the_url_holds_them() -> None:
    assert Step("a", "k", True, "toggle").url_value() == "1"
    assert Step("a", "k", False, "toggle").url_value() == "0"
    assert Step("a", "k", 0.49, "slider", "ArrowLeft").url_value() == "0.49"
    assert Step("a", "k", 11, "slider", "ArrowRight").url_value() == "11"
    assert Step("a", "k", "2 · Search", "tab").url_value() == "2 · Search"


def test_bad_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="'drag' is not one of"):
        Step("a", "k", 1, "drag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step 'a': a slider step"):
        Step("a", "k", 1, "slider")
    with pytest.raises(ValueError, match="step 'b': a slider step"):
        Step("b", "k", "x", "text", "Enter")


# ---------------------------------------------------------------- the recorded fixtures


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fixture_fits_its_scenario(name: str) -> None:
    """Each run of the fixture is named after its step, the deep link's run carries the
    link's parameters, and each change's message holds the widget it changes."""
    scenario = SCENARIOS[name]
    recording = Recording.load(scenario.fixture)
    assert recording_problems(scenario, recording) == []
    assert recording.assets and all(a.startswith("/") for a in recording.assets)
    first = BackMsg()
    first.ParseFromString(recording.reruns[0][1])
    query = parse_qs(first.rerun_script.query_string)
    for key, value in scenario.params:
        assert query[key] == [value]
    for step, (_, raw) in zip(scenario.steps, recording.reruns[1:], strict=True):
        msg = BackMsg()
        msg.ParseFromString(raw)
        keys = {widget_key(w.id) for w in msg.rerun_script.widget_states.widgets}
        assert step.key in keys, f"{name}/{step.name}: {step.key!r} not in {sorted(map(str, keys))}"


def test_a_stale_fixture_is_named() -> None:
    recording = Recording((), (("open", b""), ("k", b"")))
    (problem,) = recording_problems(CLASSROOM, recording)
    assert "--page similarity" in problem and "['open', 'k']" in problem


def _rerun(query: str) -> bytes:
    msg = BackMsg()
    msg.rerun_script.query_string = query
    return msg.SerializeToString()


def test_fixture_content_names_each_rerun_after_its_step() -> None:
    scenario = SCENARIOS["mrl"]
    other = BackMsg()
    other.app_heartbeat = True
    sent = [_rerun("a=1"), other.SerializeToString(), *(_rerun(f"s={i}") for i in range(6))]
    content = fixture_content(scenario, ["/", "/_stcore/stream", "/static/x.js"], sent)
    assert [r["step"] for r in content["reruns"]] == scenario.step_names()
    assert base64.b64decode(content["reruns"][2]["backmsg"]) == _rerun("s=1")
    assert content["assets"] == ["/", "/static/x.js"]
    assert content["meta"]["other_backmsgs"] == ["app_heartbeat"]
    assert content["meta"]["tabs"] == scenario.tabs()
    with pytest.raises(RuntimeError, match="expected 7 reruns"):
        fixture_content(scenario, [], sent[:4])
    with pytest.raises(RuntimeError, match="the browser sent 8"):
        fixture_content(scenario, [], [*sent, _rerun("again")])


# ---------------------------------------------------------------- the replay's checks


def _result(query: str = "", status: int = 0, **kw: list[str]) -> RunResult:
    return RunResult(
        "k", 0.1, status, 3, 100, kw.get("exceptions", []), kw.get("errors", []), query
    )


def test_run_problems() -> None:
    k = STEPS[0]  # sim_k to 11
    assert run_problems(_result("sim_view=Neighbours&sim_k=11"), k) == []
    assert run_problems(_result(status=ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY), None) == []
    assert run_problems(_result("sim_k=10"), k) == [
        "k: the URL holds sim_k='10' afterwards, not '11'"
    ]
    assert run_problems(_result(""), k) == ["k: the URL holds sim_k=None afterwards, not '11'"]
    assert run_problems(_result(status=1), None) == ["k: script_finished status 1"]
    assert run_problems(_result(exceptions=["boom"], errors=["bad k"]), None) == [
        "k: exception 'boom'",
        "k: st.error 'bad k'",
    ]


def test_fragment_problems_name_a_recording_older_than_the_fragments() -> None:
    k = STEPS[0]
    full = _rerun("sim_k=10")
    msg = BackMsg()
    msg.rerun_script.fragment_id = "abcdef0123456789"
    in_fragment = msg.SerializeToString()
    assert fragment_problems(k, full, {}) == []  # not drawn yet: nothing to compare
    assert fragment_problems(k, full, {"sim_k": ""}) == []
    assert fragment_problems(k, in_fragment, {"sim_k": "abcdef0123456789"}) == []
    (stale,) = fragment_problems(k, full, {"sim_k": "abcdef0123456789"})
    assert stale.startswith("k: a change of sim_k now reruns its fragment abcdef01, ")
    assert "the recording reruns the whole script" in stale
    (gone,) = fragment_problems(k, in_fragment, {"sim_k": ""})
    assert "now reruns the whole script, the recording reruns fragment abcdef01" in gone


def test_with_values_and_widget_keys() -> None:
    msg = BackMsg()
    w = msg.rerun_script.widget_states.widgets.add()
    w.id = "$$ID-0123abcd-sim_k"
    w.int_value = 10
    t = msg.rerun_script.widget_states.widgets.add()
    t.id = "$$ID-99-sim_target"
    t.string_value = "queen"
    out = BackMsg()
    out.ParseFromString(with_values(msg.SerializeToString(), {"sim_k": 12, "sim_target": "x"}))
    assert [x.int_value for x in out.rerun_script.widget_states.widgets][0] == 12
    assert out.rerun_script.widget_states.widgets[1].string_value == "x"
    assert widget_key("$$ID-0123abcd-sim_k") == "sim_k"
    assert widget_key("$$ID-0123abcd") is None
    assert parse_flags("runner.postScriptGC=false --a=b") == [
        "--runner.postScriptGC=false",
        "--a=b",
    ]
    flags, env, launcher = server_options("runner.postScriptGC=false BENCH_GC_FREEZE=1")
    assert flags == ["--runner.postScriptGC=false"] and env["BENCH_GC_FREEZE"] == "1"
    assert launcher == "bench.gc_server"
    assert server_options("a=b") == (["--a=b"], {}, "streamlit")


# ---------------------------------------------------------------- the printed tables


def _rows() -> list[StepRow]:
    rows = scenario_rows(CLASSROOM)[:4]
    for i, r in enumerate(rows):
        r.alone_cpu = [0.01 * (i + 1), 0.03 * (i + 1), 0.02 * (i + 1)]
        r.alone_seconds = [0.1, 0.3, 0.2]
    rows[0].burst_cpu, rows[0].burst_last = 0.2, 4.0
    rows[1].burst_cpu, rows[1].burst_last = 0.045, 1.25
    return rows


def test_scenario_rows_are_labelled_by_tab_and_step() -> None:
    assert [r.label() for r in scenario_rows(CLASSROOM)] == [
        "deep link (Neighbours)",
        "Neighbours: k",
        "Neighbours: target",
        "→ Spread",
        "Spread: threshold",
        "→ Map",
    ]
    home = scenario_rows(SCENARIOS["home"])
    assert [r.label() for r in home[:2]] == ["deep link", "dataset"]
    assert {r.page for r in home} == {"Home"}


def test_pages_table() -> None:
    lines = pages_table(_rows(), 30).splitlines()
    assert lines[0].startswith("| page | tab / step | CPU ms / change, alone (median) |")
    assert "burst of 30" in lines[0]
    assert "burst of none" in pages_table(_rows(), 0)
    assert lines[2:] == [
        "| Similarity | deep link (Neighbours) | 20 | 0.200 | 200 | 4.00 |",
        "| Similarity | Neighbours: k | 40 | 0.200 | 45 | 1.25 |",
        "| Similarity | Neighbours: target | 60 ✗ | 0.200 | – | – |",
        "| Similarity | → Spread | 80 ✗ | 0.200 | – | – |",
    ]


def test_pages_summary_judges_the_burst_else_the_lone_student() -> None:
    rows = _rows()
    assert pages_summary(rows).splitlines()[2] == "| Similarity | 3 | 60 | 45 | yes |"
    for r in rows:
        r.burst_cpu = None
    assert pages_summary(rows).splitlines()[2] == "| Similarity | 3 | 60 | – | no |"


def test_newcomer_table() -> None:
    r = NewcomerResult("config.toml", "/similarity", 20, [0.5, 0.7, 0.6], [2.0, 4.0, 2.5])
    r.workers_changes = [1.0, 2.0, 3.0, 4.0, 5.0]
    lines = newcomer_table([r]).splitlines()
    assert lines[2] == "| config.toml | /similarity | 20 | 0.60 | 2.50 / 4.00 | yes | 3.00 / 4.80 |"


# ---------------------------------------------------------------- the fixtures on the app


def _replay_all(url: str) -> dict[str, list[str]]:
    """Each fixture replayed once on the server at ``url``: its problems by scenario."""

    async def replay(scenario: Scenario) -> list[str]:
        session = ReplaySession(url, Recording.load(scenario.fixture))
        try:
            problems = run_problems(await session.open(), None)
            for step, (name, raw) in zip(scenario.steps, session.steps(), strict=True):
                problems += fragment_problems(step, raw, session.widget_fragments)
                problems += run_problems(await session.run(name, raw, timeout=120), step)
        finally:
            await session.close()
        if session.unmatched:
            problems.append(f"recorded widgets not on the server: {sorted(session.unmatched)}")
        return problems

    async def replay_all() -> dict[str, list[str]]:
        return {name: await replay(s) for name, s in SCENARIOS.items()}

    return run_in_own_thread(replay_all())


@pytest.mark.slow
def test_every_fixture_replays_on_the_app() -> None:
    """Every page's recording still drives the current app: each run ends well with no
    exception or error, every recorded widget is on the page, after each change the URL
    holds the step's value, and each change reruns what it reruns in a browser now (the
    whole script or its fragment). A failure names the page and the key a change broke."""
    server = StreamlitServer()
    try:
        problems = _replay_all(server.url)
    finally:
        server.close()
    assert "Traceback" not in server.log_text(), server.log_text()
    assert {k: v for k, v in problems.items() if v} == {}
