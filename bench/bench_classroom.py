"""A classroom on one Streamlit server: N students on the Similarity page at once.

``python -m bench.bench_classroom`` starts the app once per configuration and round, warms
it with one session, then for each N (``--sessions 1,10,30``) opens N sessions together and
lets each replay the recorded Chromium session (``bench/fixtures/similarity_session.json``:
the Neighbours deep link, then k slider, a typed target, Spread tab, threshold, Map tab) with
no pause between its changes. Each session is a lightweight websocket client
(``bench.classroom_client.ReplaySession``), so only the server is measured:

- latency of each widget change: send -> the server's ``script_finished`` ForwardMsg;
- opening: the page and its static files (142 GETs, as Chromium fetched them), then the
  deep link's first run;
- the server process's CPU seconds (``/proc/<pid>/stat``, all threads) per change and per
  new session, idle CPU subtracted; RSS after each N and its peak during it. For N = 1 the
  student goes through the scenario three times with a pause after each change, and the
  table gives each step's CPU (the "per page and tab" figure).

Configurations are compared in the same session, alternately, round after round (the machine
is shared: quote medians). By default ``defaults`` is Streamlit's own defaults (the
collector after every run, the file watcher on), whatever ``.streamlit/config.toml`` says,
and ``config.toml`` is what ``make run`` uses. Add ``--config name="flag=value ..."`` to try
others. ``--mode burst`` sends every step from all sessions at the same moment instead (the
last one rendered is the teacher's "now move the slider"). ``--soak MINUTES`` instead keeps
``--soak-sessions`` students arriving, each on a page picked at random (every page's
recording, or those ``--page`` names), working with 2-10 s pauses and leaving, and prints
RSS and latency every minute, then RSS after they have all left. With
``--config 'name=BENCH_MEMORY_EVERY=10'`` (the instrumented launcher) it also says, before
the class, at its end and after it has left, how many sessions Streamlit still knows, how
many ``AppSession`` objects are alive and how many blocks Python's allocator holds.

``--pages`` instead measures every page and tab (``bench.classroom_scenario.SCENARIOS``, one
recorded Chromium session each in ``bench/fixtures/<name>_session.json``, ``--page NAME`` for
some): one student alone goes through a page's recording ``--repeats`` times (fresh
sessions, a pause after each change) for each step's server CPU and latency, then
``--burst`` (30) sessions open the page together and send each step at once: CPU per change
is the server's CPU over the burst divided by the sessions, and the last one rendered is
timed (each student's opening, files and deep link, is the table's first row of a page).
/proc counts CPU in 10 ms ticks: a lone student's figure is a multiple of 10 ms, the burst's
(30 changes) is finer and is the one the goal of 50 ms per change is judged by. Each run is
checked: no exception or ``st.error``, every recorded widget found, and the URL holding the
step's value afterwards (a renamed widget key shows up here, by name).

``--newcomer`` measures a newcomer under load: while 20 and 30 sessions
(``--newcomer-sessions``) replay their changes in a loop with no pause, one new session after
another opens the page as Chromium does (its static files over six connections, then the
deep link's run); prints the median and the worst of ``--newcomers`` of them (goal: 3 s).
Its page is the classroom scenario's unless ``--page`` names others.

``--pages`` and ``--newcomer`` use one server with ``.streamlit/config.toml`` (what ``make
run`` uses) unless ``--config`` names configurations; they can run together.

``--server`` instead drives the classroom embeddings server (``python -m core.serve``, its own
process): 50 ``openai`` clients x 20 requests of 1-3 sentences, with the embedder's own
sentences/s measured in this process before each round (``bench.bench_serve.classroom``);
``--server-command`` starts another server build to compare (e.g. an older ``core/serve.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg

from bench.classroom_client import (
    BROWSER_CONNECTIONS,
    FINISHED_OK,
    Recording,
    ReplaySession,
    RunResult,
    StreamlitServer,
    parse_flags,
    streamlit_server,
)
from bench.classroom_scenario import CLASSROOM, SCENARIOS, Scenario, Step
from views._warm import DELAY_S as WARM_UP_DELAY_S

# Streamlit's own defaults for what .streamlit/config.toml changes, spelled out so that
# "defaults" stays the baseline whatever the file says.
DEFAULTS = "runner.postScriptGC=true server.fileWatcherType=auto"
CONFIGS = {"defaults": DEFAULTS, "config.toml": ""}


def server_options(config: str) -> tuple[list[str], dict[str, str], str]:
    """``"runner.postScriptGC=false BENCH_GC_FREEZE=1"`` -> streamlit flags, environment and
    launcher: upper-case names are environment variables for the instrumented launcher
    ``bench.gc_server`` (``BENCH_GC_FREEZE=1``: ``gc.freeze()`` after the first run)."""
    flags, env = [], {}
    for token in config.split():
        name, _, value = token.partition("=")
        if name.isupper():
            env[name] = value
        else:
            flags.append(token)
    if not env:
        return parse_flags(" ".join(flags)), {}, "streamlit"
    env.setdefault("BENCH_GC_LOG", f"/tmp/bench_gc_{time.time_ns()}.jsonl")
    return parse_flags(" ".join(flags)), env, "bench.gc_server"


# A server is quiet when it uses under QUIET_CPU of a core; warm() waits for that at most
# QUIET_WAIT seconds.
QUIET_CPU, QUIET_WAIT = 0.05, 20.0
# One student alone goes through the scenario this many times (fresh sessions).
ALONE_REPEATS = 3
# Streamlit keeps a disconnected session this long (server.disconnectedSessionTTL, 120 s)
# before it may drop it.
SESSION_TTL = 120


@dataclass
class NResult:
    """One configuration, one N, one round."""

    config: str
    n: int
    open_seconds: list[float] = field(default_factory=list)
    files_seconds: list[float] = field(default_factory=list)
    changes: list[RunResult] = field(default_factory=list)
    bursts: list[float] = field(default_factory=list)
    cpu_per_open: float = 0.0
    cpu_per_change: float = 0.0
    cpu_per_step: dict[str, float] = field(default_factory=dict)
    reruns_per_s: float = 0.0
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    idle_cpu: float = 0.0
    problems: list[str] = field(default_factory=list)

    def pct(self, q: float) -> float:
        return float(np.percentile([c.seconds for c in self.changes], q))


class Meter:
    """The server's CPU seconds and RSS, with the idle CPU rate to subtract."""

    def __init__(self, server: StreamlitServer) -> None:
        self.server = server
        self.idle_rate = 0.0
        self.peak_rss = 0.0
        self._sampling = False

    async def measure_idle(self, seconds: float = 1.5) -> float:
        """The idle server's CPU rate: the lower of two readings, so that the tail of
        earlier work (a session closing) does not count as idle."""
        rates = []
        for _ in range(2):
            c0, t0 = self.server.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(seconds)
            rates.append((self.server.cpu_seconds() - c0) / (time.perf_counter() - t0))
        self.idle_rate = min(rates)
        return self.idle_rate

    def mark(self) -> tuple[float, float]:
        return self.server.cpu_seconds(), time.perf_counter()

    def busy_since(self, mark: tuple[float, float]) -> float:
        """CPU seconds since ``mark``, minus what the idle server would have used."""
        c0, t0 = mark
        return self.server.cpu_seconds() - c0 - self.idle_rate * (time.perf_counter() - t0)

    async def sample_rss(self) -> None:
        self._sampling = True
        while self._sampling:
            self.peak_rss = max(self.peak_rss, self.server.rss_mb())
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._sampling = False


async def _open(session: ReplaySession, result: NResult) -> None:
    result.files_seconds.append(await session.fetch_assets())
    first = await session.open()
    result.open_seconds.append(result.files_seconds[-1] + first.seconds)
    if first.exceptions:
        result.problems += first.exceptions


async def run_n(
    server: StreamlitServer, recording: Recording, config: str, n: int, mode: str
) -> NResult:
    """N sessions opened together, then their widget changes (free-running or in bursts)."""
    result = NResult(config, n)
    meter = Meter(server)
    result.idle_cpu = await meter.measure_idle()
    sampler = asyncio.create_task(meter.sample_rss())
    sessions = [ReplaySession(server.url, recording) for _ in range(n)]
    mark = meter.mark()
    await asyncio.gather(*(_open(s, result) for s in sessions))
    await asyncio.sleep(0.5)  # the last run's collection happens after its script_finished
    result.cpu_per_open = meter.busy_since(mark) / n
    steps = sessions[0].steps()

    mark = meter.mark()
    start = time.perf_counter()
    per_step: dict[str, list[float]] = {}
    if n == 1:
        # One student alone, with a pause after each change so that each step's CPU can be
        # read on its own; three students one after another, since /proc counts CPU in
        # 10 ms ticks.
        wall = 0.0
        for repeat in range(ALONE_REPEATS):
            if repeat:
                sessions.append(ReplaySession(server.url, recording))
                await sessions[-1].open()
            for step, raw in steps:
                step_mark = meter.mark()
                result.changes.append(await sessions[-1].run(step, raw))
                wall += result.changes[-1].seconds
                await asyncio.sleep(0.4)
                per_step.setdefault(step, []).append(meter.busy_since(step_mark))
        result.cpu_per_step = {k: statistics.mean(v) for k, v in per_step.items()}
    elif mode == "burst":
        for step, raw in steps:
            burst = await asyncio.gather(*(s.run(step, raw) for s in sessions))
            result.changes += burst
            result.bursts.append(max(r.seconds for r in burst))
        wall = time.perf_counter() - start
    else:

        async def student(s: ReplaySession) -> None:
            for step, raw in steps:
                result.changes.append(await s.run(step, raw))

        await asyncio.gather(*(student(s) for s in sessions))
        wall = time.perf_counter() - start
    await asyncio.sleep(0.5)
    if per_step:  # the reopened sessions are not changes
        result.cpu_per_change = statistics.mean(x for v in per_step.values() for x in v)
    else:
        result.cpu_per_change = meter.busy_since(mark) / len(result.changes)
    result.reruns_per_s = len(result.changes) / wall
    meter.stop()
    await sampler
    result.peak_rss_mb = meter.peak_rss
    result.rss_mb = server.rss_mb()
    for c in result.changes:
        result.problems += c.exceptions
    for s in sessions:
        if s.unmatched:
            result.problems.append(f"recorded widgets not on this server: {sorted(s.unmatched)}")
        await s.close()
    result.problems += [
        f"{c.step}: script_finished status {c.status}"
        for c in result.changes
        if c.status not in FINISHED_OK
    ]
    return result


async def warm(server: StreamlitServer, recording: Recording) -> None:
    """One full session, so that models, vectors and projections are loaded and cached; then
    wait (up to ``QUIET_WAIT`` s) until the server is quiet, as a teacher's server is when
    the class arrives: the app's warm-up thread (``views._warm``) imports in the background
    for about a second, from ``DELAY_S`` (4 s) after its first page, so the wait starts no
    earlier than that (a quiet reading before it let Home's idle CPU include the imports)."""
    s = ReplaySession(server.url, recording)
    opened = time.perf_counter()
    await s.fetch_assets()
    await s.open()
    for step, raw in s.steps():
        await s.run(step, raw)
    await s.close()
    await asyncio.sleep(max(0.0, opened + WARM_UP_DELAY_S + 0.5 - time.perf_counter()))
    deadline = time.perf_counter() + QUIET_WAIT
    while time.perf_counter() < deadline:
        c0, t0 = server.cpu_seconds(), time.perf_counter()
        await asyncio.sleep(0.5)
        if (server.cpu_seconds() - c0) / (time.perf_counter() - t0) < QUIET_CPU:
            break


def _fmt_row(rs: list[NResult], burst_column: bool) -> str:
    """Medians over rounds of each statistic, for one configuration and N; with
    ``burst_column``, the last change of a burst (``–`` for a lone session, which has none)."""

    def med(values: Sequence[float]) -> float:
        return float(statistics.median(values))

    r0 = rs[0]
    burst = ""
    if burst_column:
        burst = f" {med([max(r.bursts) for r in rs]):.2f} |" if r0.bursts else " – |"
    return (
        f"| {r0.config} | {r0.n} | {med([r.pct(50) for r in rs]):.3f} | "
        f"{med([r.pct(95) for r in rs]):.3f} | {med([r.pct(100) for r in rs]):.3f} |"
        f"{burst} {med([r.reruns_per_s for r in rs]):.1f} | "
        f"{med([r.cpu_per_change for r in rs]):.3f} | "
        f"{med([float(np.median(r.open_seconds)) for r in rs]):.2f} / "
        f"{med([max(r.open_seconds) for r in rs]):.2f} | "
        f"{med([r.cpu_per_open for r in rs]):.2f} | "
        f"{med([r.rss_mb for r in rs]):.0f} / {med([r.peak_rss_mb for r in rs]):.0f} |"
    )


def print_table(results: list[NResult], configs: dict[str, str]) -> None:
    first_n = results[0].n
    rounds = max(sum(1 for r in results if r.config == c and r.n == first_n) for c in configs)
    print(f"\nMedians over {rounds} rounds (configurations alternated in each round):\n")
    has_burst = any(r.bursts for r in results)
    print(
        "| config | sessions | change p50 s | p95 s | max s |"
        + (" last of a burst s |" if has_burst else "")
        + " reruns/s | CPU s / change | open p50 / max s | CPU s / new session |"
        " RSS after / peak MB |"
    )
    print("|" + " --- |" * (11 if has_burst else 10))
    for config in configs:
        for n in sorted({r.n for r in results}):
            rs = [r for r in results if r.config == config and r.n == n]
            if rs:
                print(_fmt_row(rs, has_burst))
    steps = [r for r in results if r.n == 1 and r.cpu_per_step]
    if steps:
        names = list(steps[0].cpu_per_step)
        print("\nServer CPU s per change, one session alone (median over rounds):\n")
        print("| config | " + " | ".join(names) + " | deep link (with files) |")
        print("|" + " --- |" * (len(names) + 2))
        for config in configs:
            rs = [r for r in steps if r.config == config]
            if rs:
                cells = [f"{statistics.median(r.cpu_per_step[s] for r in rs):.3f}" for s in names]
                opened = statistics.median(r.cpu_per_open for r in rs)
                print(f"| {config} | " + " | ".join(cells) + f" | {opened:.3f} |")
    idle = {c: [r.idle_cpu for r in results if r.config == c] for c in configs}
    print(
        "\nIdle server CPU (subtracted): "
        + ", ".join(f"{c} {statistics.median(v) * 100:.1f} %" for c, v in idle.items() if v)
    )


async def bench(
    configs: dict[str, str], ns: list[int], rounds: int, mode: str, recording: Recording
) -> list[NResult]:
    results: list[NResult] = []
    for r in range(rounds):
        order = list(configs) if r % 2 == 0 else list(reversed(configs))
        for config in order:
            flags, env, launcher = server_options(configs[config])
            with streamlit_server(flags, launcher=launcher, env=env) as server:
                if r == 0:
                    print(f"# {config}: {server.command}", flush=True)
                await warm(server, recording)
                for n in ns:
                    res = await run_n(server, recording, config, n, mode)
                    results.append(res)
                    print(
                        f"round {r + 1} {config:12} N={n:3d}: p50 {res.pct(50):.3f} "
                        f"p95 {res.pct(95):.3f} max {res.pct(100):.3f} s, "
                        f"{res.cpu_per_change:.3f} CPU-s/change, "
                        f"{res.cpu_per_open:.2f} CPU-s/open, RSS {res.rss_mb:.0f} MB"
                        + (f"  PROBLEMS: {res.problems[:3]}" if res.problems else ""),
                        flush=True,
                    )
                if "Traceback" in server.log_text():
                    print(f"  server log has a traceback: {server.log_path}", flush=True)
    return results


# ---------------------------------------------------------------- soak


def _print_memory(when: str, log: Path) -> None:
    """A table row from the newest memory sample in the instrumented server's ``log``."""
    samples = [r for r in map(json.loads, log.read_text().splitlines()) if r.get("memory")]
    if not samples:
        print(f"| {when} | no memory sample in {log} |", flush=True)
        return
    m = samples[-1]
    print(
        f"| {when} | {m['rss_mb']:.0f} | {m['known']} / {m['connected']} | "
        f"{m['app_sessions']} | {m['blocks']:,} |",
        flush=True,
    )


async def soak(
    config: str,
    flags: str,
    minutes: float,
    slots: int,
    recordings: Sequence[Recording],
    seed: int = 0,
) -> None:
    """``slots`` students at a time for ``minutes``: each opens a page (one of
    ``recordings``, at random), makes its changes with 2-10 s pauses, leaves, and a new one
    arrives. RSS and latency every minute."""
    rng = random.Random(seed)
    options, env, launcher = server_options(flags)
    memory_log = Path(env["BENCH_GC_LOG"]) if env.get("BENCH_MEMORY_EVERY") else None
    with streamlit_server(options, launcher=launcher, env=env) as server:
        print(f"# soak {config}: {server.command}", flush=True)
        for recording in recordings:
            await warm(server, recording)
        if memory_log:
            print("| when | RSS MB | sessions known / connected | AppSession objects "
                  "| allocated blocks |", flush=True)  # fmt: skip
            print("| --- | --- | --- | --- | --- |", flush=True)
            await asyncio.sleep(float(env["BENCH_MEMORY_EVERY"]) + 1)
            _print_memory("before the class (every page warmed)", memory_log)
        end = time.monotonic() + minutes * 60
        window: list[float] = []
        counts = {"sessions": 0, "changes": 0, "problems": 0}

        async def student() -> None:
            while time.monotonic() < end:
                s = ReplaySession(server.url, rng.choice(recordings))
                try:
                    await s.fetch_assets()
                    await s.open()
                    counts["sessions"] += 1
                    for step, raw in s.steps():
                        await asyncio.sleep(rng.uniform(2, 10))
                        r = await s.run(step, raw, timeout=120)
                        window.append(r.seconds)
                        counts["changes"] += 1
                        counts["problems"] += bool(r.exceptions) or r.status not in FINISHED_OK
                except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                    counts["problems"] += 1
                    print(f"  a student's session failed: {exc!r}", flush=True)
                finally:
                    await s.close()
                await asyncio.sleep(rng.uniform(0, 5))

        async def report() -> None:
            start = time.monotonic()
            mark = server.cpu_seconds(), time.monotonic()
            print("| minute | RSS MB | sessions so far | changes | p50 s | p95 s | CPU % |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            while time.monotonic() < end:
                await asyncio.sleep(60)
                cpu, t = server.cpu_seconds(), time.monotonic()
                lat = window[:]
                window.clear()
                p50, p95 = np.percentile(lat, [50, 95]) if lat else (float("nan"),) * 2
                print(
                    f"| {(t - start) / 60:.0f} | {server.rss_mb():.0f} | {counts['sessions']} | "
                    f"{counts['changes']} | {p50:.3f} | {p95:.3f} | "
                    f"{(cpu - mark[0]) / (t - mark[1]) * 100:.0f} |",
                    flush=True,
                )
                mark = cpu, t

        # Students arrive over the first 30 s, not all in the same instant.
        async def later(delay: float) -> None:
            await asyncio.sleep(delay)
            await student()

        await asyncio.gather(report(), *(later(rng.uniform(0, 30)) for _ in range(slots)))
        print(
            f"after the soak: RSS {server.rss_mb():.0f} MB; {counts['sessions']} sessions, "
            f"{counts['changes']} changes, {counts['problems']} with an exception or error",
            flush=True,
        )
        if memory_log:
            _print_memory("at the end of the soak", memory_log)
        # Left sessions are dropped after server.disconnectedSessionTTL.
        for wait in (30, SESSION_TTL + 30):
            await asyncio.sleep(wait if wait == 30 else wait - 30)
            print(f"all gone for {wait} s: RSS {server.rss_mb():.0f} MB", flush=True)
            if memory_log:
                _print_memory(f"all gone for {wait} s", memory_log)
        if "Traceback" in server.log_text():
            print(f"server log has a traceback: {server.log_path}", flush=True)


# ---------------------------------------------------------------- every page and tab

# Sessions in a page's burst: a class of thirty.
BURST = 30
# Issue 16's goals: server CPU per widget change, and a newcomer's page under load.
GOAL_CPU_MS = 50.0
GOAL_NEWCOMER_S = 3.0
# After each measured run: the run's tail (its collection, the session's bookkeeping) falls
# inside the CPU reading.
PAUSE = 0.4


@dataclass
class StepRow:
    """One run of a page's scenario (the deep link's, ``open``, or a widget change): the
    server CPU seconds and latency of each lone repeat, and the burst's CPU per session and
    its last run's latency."""

    page: str
    tab: str
    step: str
    tab_switch: bool = False
    alone_cpu: list[float] = field(default_factory=list)
    alone_seconds: list[float] = field(default_factory=list)
    burst_cpu: float | None = None
    burst_last: float | None = None

    def label(self) -> str:
        """``deep link (Neighbours)``, ``→ Spread`` for a tab switch, ``Spread: threshold``."""
        if self.step == "open":
            return f"deep link ({self.tab})" if self.tab else "deep link"
        if self.tab_switch:
            return f"→ {self.tab}"
        return f"{self.tab}: {self.step}" if self.tab else self.step

    def alone_cpu_ms(self) -> float:
        return 1000 * float(statistics.median(self.alone_cpu))


def scenario_rows(scenario: Scenario) -> list[StepRow]:
    """The empty rows of a scenario: the deep link's run, then one per step."""
    switches = [False, *(s.kind == "tab" for s in scenario.steps)]
    return [
        StepRow(scenario.title, tab, name, switch)
        for name, tab, switch in zip(scenario.step_names(), scenario.tabs(), switches, strict=True)
    ]


def recording_problems(scenario: Scenario, recording: Recording) -> list[str]:
    """Why ``recording`` does not fit ``scenario`` (steps added, renamed or reordered since it
    was recorded): an empty list when it fits."""
    names = [name for name, _ in recording.reruns]
    if names != scenario.step_names():
        return [
            f"{scenario.name}: the fixture has runs {names}, the scenario {scenario.step_names()}:"
            f" record it again (python -m bench.record_classroom --page {scenario.name})"
        ]
    return []


def run_problems(result: RunResult, step: Step | None) -> list[str]:
    """What went wrong in one replayed run: an exception, an ``st.error``, an unusual end,
    or (for a widget change) a URL that does not hold the step's value afterwards."""
    out = [f"{result.step}: exception {e!r}" for e in result.exceptions]
    out += [f"{result.step}: st.error {e!r}" for e in result.errors]
    if result.status not in FINISHED_OK:
        out.append(f"{result.step}: script_finished status {result.status}")
    if step is not None:
        held = parse_qs(result.query_string).get(step.key, [None])[-1]
        if held != step.url_value():
            out.append(
                f"{result.step}: the URL holds {step.key}={held!r} afterwards, "
                f"not {step.url_value()!r}"
            )
    return out


def fragment_problems(step: Step, raw: bytes, fragments: dict[str, str]) -> list[str]:
    """A recording older than the page's fragments: the browser would rerun only the
    fragment that holds ``step``'s widget (``fragments``: where this server drew each keyed
    widget), but the recorded ``raw`` asks for another run (the whole script, or another
    fragment), so the replay measures something a browser no longer does."""
    msg = BackMsg()
    msg.ParseFromString(raw)
    recorded = msg.rerun_script.fragment_id
    drawn = fragments.get(step.key)
    if drawn is None or drawn == recorded:
        return []
    now = f"its fragment {drawn[:8]}" if drawn else "the whole script"
    then = f"fragment {recorded[:8]}" if recorded else "the whole script"
    return [
        f"{step.name}: a change of {step.key} now reruns {now}, the recording reruns {then}: "
        "record it again (python -m bench.record_classroom)"
    ]


async def run_page(
    server: StreamlitServer,
    scenario: Scenario,
    recording: Recording,
    repeats: int,
    burst: int,
) -> tuple[list[StepRow], list[str]]:
    """One page: ``repeats`` lone students one after another, then a burst of ``burst``
    sessions (none when 0). Returns the rows and the problems seen (each once)."""
    problems = recording_problems(scenario, recording)
    if problems:
        return [], problems
    rows = scenario_rows(scenario)
    steps = list(zip(rows[1:], scenario.steps, recording.reruns[1:], strict=True))
    await warm(server, recording)
    meter = Meter(server)
    await meter.measure_idle()

    def unmatched(sessions: list[ReplaySession]) -> list[str]:
        keys = sorted({k for s in sessions for k in s.unmatched})
        return [f"recorded widgets not on this server: {keys}"] if keys else []

    for _ in range(repeats):
        s = ReplaySession(server.url, recording)
        mark = meter.mark()
        files = await s.fetch_assets()
        first = await s.open()
        await asyncio.sleep(PAUSE)
        rows[0].alone_cpu.append(meter.busy_since(mark))
        rows[0].alone_seconds.append(files + first.seconds)
        problems += run_problems(first, None)
        for row, step, (name, raw) in steps:
            problems += fragment_problems(step, raw, s.widget_fragments)
            mark = meter.mark()
            result = await s.run(name, raw)
            await asyncio.sleep(PAUSE)
            row.alone_cpu.append(meter.busy_since(mark))
            row.alone_seconds.append(result.seconds)
            problems += run_problems(result, step)
        problems += unmatched([s])
        await s.close()

    if burst:
        sessions = [ReplaySession(server.url, recording) for _ in range(burst)]

        async def open_one(s: ReplaySession) -> float:
            files = await s.fetch_assets()
            first = await s.open()
            problems.extend(run_problems(first, None))
            return files + first.seconds

        mark = meter.mark()
        opened = await asyncio.gather(*(open_one(s) for s in sessions))
        await asyncio.sleep(PAUSE)
        rows[0].burst_cpu = meter.busy_since(mark) / burst
        rows[0].burst_last = max(opened)
        for row, step, (name, raw) in steps:
            mark = meter.mark()
            results = await asyncio.gather(*(s.run(name, raw) for s in sessions))
            await asyncio.sleep(PAUSE)
            row.burst_cpu = meter.busy_since(mark) / burst
            row.burst_last = max(r.seconds for r in results)
            for r in results:
                problems += run_problems(r, step)
        problems += unmatched(sessions)
        await asyncio.gather(*(s.close() for s in sessions))
    return rows, list(dict.fromkeys(f"{scenario.name}: {p}" for p in problems))


def pages_table(rows: list[StepRow], burst: int) -> str:
    """The per-page table (markdown): each run's server CPU per change alone (median of the
    repeats) and in a burst of ``burst``, with their latencies; a widget change's CPU over
    the goal is marked ✗ (the deep link's run, a new session's, is not a change). A burst
    not measured shows –."""
    lines = [
        "| page | tab / step | CPU ms / change, alone (median) | latency s, alone (median) "
        f"| CPU ms / change, burst of {burst or 'none'} | last of the burst rendered s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    for r in rows:

        def mark(ms: float, r: StepRow = r) -> str:
            return f"{ms:.0f}" + (" ✗" if ms > GOAL_CPU_MS and r.step != "open" else "")

        burst_cells = (
            f"{mark(1000 * r.burst_cpu)} | {r.burst_last:.2f}"
            if r.burst_cpu is not None and r.burst_last is not None
            else "– | –"
        )
        lines.append(
            f"| {r.page} | {r.label()} | {mark(r.alone_cpu_ms())} | "
            f"{statistics.median(r.alone_seconds):.3f} | {burst_cells} |"
        )
    return "\n".join(lines)


def pages_summary(rows: list[StepRow]) -> str:
    """Per page, the median server CPU per widget change (the deep link's run left out) alone
    and in the burst, against the 50 ms goal."""
    lines = [
        "| page | widget changes | median CPU ms / change, alone | in the burst | ≤ 50 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for page in dict.fromkeys(r.page for r in rows):
        changes = [r for r in rows if r.page == page and r.step != "open"]
        alone = statistics.median(r.alone_cpu_ms() for r in changes)
        bursts = [1000 * r.burst_cpu for r in changes if r.burst_cpu is not None]
        in_burst = statistics.median(bursts) if bursts else None
        judged = in_burst if in_burst is not None else alone
        lines.append(
            f"| {page} | {len(changes)} | {alone:.0f} | "
            + (f"{in_burst:.0f}" if in_burst is not None else "–")
            + f" | {'yes' if judged <= GOAL_CPU_MS else 'no'} |"
        )
    return "\n".join(lines)


@dataclass
class NewcomerResult:
    """Newcomers opening a page while ``working`` sessions replay their changes."""

    config: str
    page: str
    working: int
    files_seconds: list[float] = field(default_factory=list)
    page_seconds: list[float] = field(default_factory=list)
    workers_changes: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def newcomers_under_load(
    server: StreamlitServer,
    recording: Recording,
    page: str,
    config: str,
    working: int,
    newcomers: int,
) -> NewcomerResult:
    """``working`` sessions open the page and replay its changes in a loop with no pause;
    meanwhile ``newcomers`` new sessions, one after another, fetch the static files over
    ``BROWSER_CONNECTIONS`` connections and run the deep link. ``page`` names the page in
    the table."""
    result = NewcomerResult(config, page, working)
    workers = [ReplaySession(server.url, recording) for _ in range(working)]
    await asyncio.gather(*(w.open() for w in workers))
    stop = asyncio.Event()

    async def work(w: ReplaySession) -> None:
        steps = w.steps()
        i = 0
        while not stop.is_set():
            name, raw = steps[i % len(steps)]
            r = await w.run(name, raw)
            result.workers_changes.append(r.seconds)
            result.problems += run_problems(r, None)
            i += 1

    tasks = [asyncio.create_task(work(w)) for w in workers]
    await asyncio.sleep(3)  # every worker busy
    for _ in range(newcomers):
        s = ReplaySession(server.url, recording)
        files = await s.fetch_assets(BROWSER_CONNECTIONS)
        first = await s.open()
        result.files_seconds.append(files)
        result.page_seconds.append(files + first.seconds)
        result.problems += run_problems(first, None)
        await s.close()
        await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.gather(*(w.close() for w in workers))
    result.problems = list(dict.fromkeys(result.problems))
    return result


def newcomer_table(results: list[NewcomerResult]) -> str:
    """Markdown: per configuration, page and load, the newcomers' static files and whole
    page (median / worst) and the working sessions' change latency meanwhile."""
    lines = [
        "| config | page | sessions working | newcomer's files s (median) "
        "| newcomer's page s (median / max) | ≤ 3 s | workers' change p50 / p95 s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        page = statistics.median(r.page_seconds)
        p50, p95 = np.percentile(r.workers_changes, [50, 95])
        lines.append(
            f"| {r.config} | {r.page} | {r.working} | {statistics.median(r.files_seconds):.2f} "
            f"| {page:.2f} / {max(r.page_seconds):.2f} | "
            f"{'yes' if page <= GOAL_NEWCOMER_S else 'no'} | {p50:.2f} / {p95:.2f} |"
        )
    return "\n".join(lines)


async def pages_part(
    configs: dict[str, str],
    pages: list[str],
    repeats: int,
    burst: int,
    newcomer: tuple[list[str], list[int], int] | None,
) -> None:
    """``--pages`` (the scenarios ``pages``) and/or ``--newcomer`` (its scenarios, numbers of
    working sessions and newcomers each): one server per configuration, the pages one after
    another on it; prints the tables."""
    names = [*pages, *(newcomer[0] if newcomer else [])]
    recordings = {n: Recording.load(SCENARIOS[n].fixture) for n in names}
    for config, text in configs.items():
        flags, env, launcher = server_options(text)
        rows: list[StepRow] = []
        newcomers: list[NewcomerResult] = []
        with streamlit_server(flags, launcher=launcher, env=env) as server:
            print(f"# {config}: {server.command}", flush=True)
            for name in pages:
                page_rows, problems = await run_page(
                    server, SCENARIOS[name], recordings[name], repeats, burst
                )
                rows += page_rows
                print(
                    f"{name}: {len(page_rows)} runs"
                    + (f"  PROBLEMS: {problems}" if problems else ", no problem"),
                    flush=True,
                )
            if newcomer is not None:
                newcomer_pages, ns, count = newcomer
                for name in newcomer_pages:
                    await warm(server, recordings[name])
                    scenario = SCENARIOS[name]
                    page = f"{scenario.title} ({scenario.tab})" if scenario.tab else scenario.title
                    for n in ns:
                        res = await newcomers_under_load(
                            server, recordings[name], page, config, n, count
                        )
                        newcomers.append(res)
                        print(
                            f"newcomer on {name} with {n} working: "
                            f"{', '.join(f'{t:.2f}' for t in res.page_seconds)} s"
                            + (f"  PROBLEMS: {res.problems[:3]}" if res.problems else ""),
                            flush=True,
                        )
            if "Traceback" in server.log_text():
                print(f"server log has a traceback: {server.log_path}", flush=True)
        if rows:
            about = f"{repeats} lone repeats, idle CPU subtracted"
            print(f"\n{config}: server CPU per change on every page and tab ({about}):\n")
            print(pages_table(rows, burst))
            print(
                "\nA page's first row is a new session (its static files, then the deep link's "
                f"run); ✗: a widget change over {GOAL_CPU_MS:.0f} ms."
            )
            print("\n" + pages_summary(rows))
        if newcomer is not None and newcomers:
            print(f"\n{config}: a newcomer's page under load ({newcomer[2]} newcomers each):\n")
            print(newcomer_table(newcomers))


def serve_part(model: str, rounds: int, command: str = "") -> None:
    """The classroom server under 50 concurrent openai clients, ``rounds`` times: prints
    requests/s, sentences/s against the embedder's own, p50/p95 and CPU per sentence."""
    from bench.bench_serve import classroom

    print(classroom(model, rounds, command.split()), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="1,10,30", help="comma-separated N")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--config",
        action="append",
        metavar='NAME="opt=value ..."',
        help=f"a server configuration to compare (default: defaults={DEFAULTS!r} and "
        "config.toml='' , i.e. .streamlit/config.toml alone)",
    )
    parser.add_argument("--mode", choices=("free", "burst"), default="free")
    parser.add_argument("--soak", type=float, default=0, metavar="MINUTES")
    parser.add_argument("--soak-sessions", type=int, default=30)
    parser.add_argument(
        "--pages", action="store_true", help="server CPU per change on every page and tab"
    )
    parser.add_argument(
        "--page",
        action="append",
        choices=list(SCENARIOS),
        help="with --pages/--newcomer/--soak: this scenario only (repeatable; default: every "
        "page for --pages and --soak, the classroom scenario for --newcomer)",
    )
    parser.add_argument("--repeats", type=int, default=ALONE_REPEATS, help="lone students")
    parser.add_argument("--burst", type=int, default=BURST, help="sessions a burst (0: none)")
    parser.add_argument(
        "--newcomer", action="store_true", help="a newcomer's page while others work"
    )
    parser.add_argument("--newcomer-sessions", default="20,30", help="comma-separated N")
    parser.add_argument("--newcomers", type=int, default=5, help="newcomers for each N")
    parser.add_argument("--server", action="store_true", help="the classroom server part only")
    parser.add_argument("--server-model", default="all-MiniLM-L6-v2")
    parser.add_argument("--server-command", default="", help="server to run instead of core.serve")
    args = parser.parse_args(argv)
    if args.server:
        serve_part(args.server_model, args.rounds, args.server_command)
        return

    configs = CONFIGS
    if args.config:
        configs = dict(c.split("=", 1) if "=" in c else (c, "") for c in args.config)
        configs = {k: v.strip("\"'") for k, v in configs.items()}
    if args.pages or args.newcomer:
        # The configuration make run uses, unless --config names others.
        chosen = configs if args.config else {"config.toml": CONFIGS["config.toml"]}
        pages = (args.page or list(SCENARIOS)) if args.pages else []
        newcomer = None
        if args.newcomer:
            ns = [int(n) for n in args.newcomer_sessions.split(",")]
            newcomer = (args.page or [CLASSROOM.name], ns, args.newcomers)
        asyncio.run(pages_part(chosen, pages, args.repeats, args.burst, newcomer))
        return
    if args.soak:
        soaked = [Recording.load(SCENARIOS[n].fixture) for n in args.page or list(SCENARIOS)]
        print(f"soak: students on {', '.join(args.page or SCENARIOS)}", flush=True)
        for name, flags in configs.items():
            asyncio.run(soak(name, flags, args.soak, args.soak_sessions, soaked))
        return
    recording = Recording.load()
    print(f"python {sys.version.split()[0]}; scenario: {recording.meta.get('deep_link')} then "
          f"{', '.join(recording.meta.get('steps', [])[1:])}", flush=True)  # fmt: skip
    ns = [int(n) for n in args.sessions.split(",")]
    results = asyncio.run(bench(configs, ns, args.rounds, args.mode, recording))
    print_table(results, configs)


if __name__ == "__main__":
    main()
