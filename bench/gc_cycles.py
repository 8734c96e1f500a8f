"""What each script run leaves to the cycle collector, and what a full collection costs.

``python -m bench.gc_cycles [--sessions 4]`` starts the app under ``bench.gc_server`` with
``runner.postScriptGC`` off and the probe on, replays the recorded Similarity session
(deep link, k, target, Spread, threshold, Map) in ``--sessions`` sessions one after another,
and reports, per script run after the first session (which also imports and fills caches):
how many objects were unreachable cycles, their shallow size, of which types (functions and
classes by qualified name, so that one sees *who* makes them), how many objects the collector
tracks in the whole process (what every ``gc.collect(2)`` walks), how long a full collection
with nothing to free takes, and what the automatic (generational) collections cost per run
meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from bench.classroom_client import Recording, ReplaySession, StreamlitServer


async def _sessions(url: str, recording: Recording, n: int) -> list[str]:
    names: list[str] = []
    for _ in range(n):
        s = ReplaySession(url, recording)
        names.append((await s.open()).step)
        for step, raw in s.steps():
            names.append((await s.run(step, raw)).step)
            await asyncio.sleep(0.2)
        await s.close()
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--top", type=int, default=16, help="types to list")
    args = parser.parse_args(argv)

    recording = Recording.load()
    records, names = _serve(recording, args.sessions, probe=True)
    per_session = len(names) // args.sessions
    later = list(zip(names[per_session:], records[per_session:], strict=False))
    print("| run | unreachable objects (median) | shallow KB | functions | classes |")
    print("| --- | --- | --- | --- | --- |")
    for step in names[:per_session]:
        rs = [r for n, r in later if n == step]
        funcs = statistics.median(
            sum(c for t, c in r["types"] if t.startswith("function ")) for r in rs
        )
        classes = statistics.median(
            sum(c for t, c in r["types"] if t.startswith("class ")) for r in rs
        )
        print(
            f"| {step} | {statistics.median(r['unreachable'] for r in rs):.0f} | "
            f"{statistics.median(r['bytes'] for r in rs) / 1024:.0f} | {funcs:.0f} | "
            f"{classes:.0f} |"
        )
    totals: Counter[str] = Counter()
    runs = [r for _, r in later]
    for r in runs:
        totals.update(dict(r["types"]))
    print(f"\nTypes in the garbage, per run (runs {per_session + 1}..{len(records)}):")
    for name, count in totals.most_common(args.top):
        print(f"  {count / len(later):8.1f}  {name}")
    empty = statistics.median(r["collect_empty_s"] for r in runs) * 1000
    print(
        f"\nObjects tracked by the collector: {records[-1]['tracked']:,}. A full collection "
        f"with nothing to free: median {empty:.0f} ms (what runner.postScriptGC costs every run)."
    )

    # The same sessions without the probe (whose full collections reset the generation
    # counters): what Python's own generational collector does instead.
    records, names = _serve(recording, args.sessions, probe=False)
    first, last = records[per_session - 1], records[-1]
    n = len(records) - per_session
    print(
        f"\nWithout the probe, automatic collections during runs {per_session + 1}..{len(records)}:"
    )
    for gen in ("0", "1", "2"):
        count = last["auto"][gen]["count"] - first["auto"][gen]["count"]
        seconds = last["auto"][gen]["seconds"] - first["auto"][gen]["seconds"]
        freed = last["auto"][gen]["collected"] - first["auto"][gen]["collected"]
        print(
            f"  generation {gen}: {count} collections ({count / n:.2f} per run), "
            f"{seconds / n * 1000:.1f} ms per run, {freed / n:.0f} objects freed per run"
        )
    print(
        f"  RSS after the first session {first['rss_mb']:.0f} MB, "
        f"at the end {last['rss_mb']:.0f} MB"
    )


def _serve(recording: Recording, sessions: int, probe: bool) -> tuple[list[dict], list[str]]:
    """Run ``sessions`` replayed sessions one after another against an instrumented server
    (postScriptGC off); returns its per-run log records and the step names."""
    log = Path(tempfile.mkdtemp()) / "gc.jsonl"
    env = {"BENCH_GC_LOG": str(log), "BENCH_GC_PROBE": "1" if probe else "0"}
    server = StreamlitServer(
        ["--runner.postScriptGC=false", "--server.fileWatcherType=none"],
        launcher="bench.gc_server",
        env=env,
    )
    try:
        names = asyncio.run(_sessions(server.url, recording, sessions))
    finally:
        server.close()
    return [json.loads(line) for line in log.read_text().splitlines()], names


if __name__ == "__main__":
    main()
