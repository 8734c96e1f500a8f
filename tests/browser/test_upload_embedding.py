"""Uploads in a real browser: a long text upload shows the estimate first, then Embed with a
progress bar, and Cancel stops it mid-way; four vector files compare as four models."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.helpers import assert_clean, enter_text, open_page, settle, shoot, tables

MINILM = "all-MiniLM-L6-v2"
N = 6000  # about 10 s of MiniLM on two cores: long enough to be asked first, and to cancel


def test_long_upload_asks_first_shows_progress_and_cancels(page: Page, server_url: str) -> None:
    nonce = uuid.uuid4().hex[:8]  # new texts each run, so nothing is cached yet
    rows = "\n".join(f"note {nonce} number {i} about a loyal dog" for i in range(N))
    open_page(page, f"{server_url}/similarity?dataset=upload&models={MINILM}&sim_view=Neighbours")
    page.get_by_test_id("stSidebar").locator("input[type=file]").first.set_input_files(
        {"name": "notes.csv", "mimeType": "text/csv", "buffer": f"text\n{rows}\n".encode()}
    )
    main = page.get_by_test_id("stMain")
    start = main.get_by_role("button", name=f"Embed {N:,} texts with {MINILM}")
    expect(start).to_be_visible(timeout=60_000)
    expect(main.get_by_text(f"{MINILM}: {N:,} texts to embed, about")).to_be_visible()
    shoot(page, "upload-embed-estimate")
    start.click()
    bar = main.get_by_test_id("stProgress")
    expect(bar).to_be_visible(timeout=30_000)
    expect(bar).to_contain_text(f"of {N:,} texts", timeout=30_000)
    shoot(page, "upload-embed-progress")
    main.get_by_role("button", name="Cancel").click()
    expect(main.get_by_text("Embedding cancelled; nothing was kept.")).to_be_visible()
    expect(bar).to_have_count(0)
    expect(start).to_be_visible()
    assert_clean(page)


REF = Path(__file__).resolve().parents[3] / "shared" / "ref" / "openai-peliculas"


def test_four_openai_files_compare_as_models(page: Page, server_url: str) -> None:
    """The peliculas files uploaded at once through the real file input: one "most similar"
    table per file on Similarity, and the sidebar (roles folded, downloads) fits beside it."""
    if not REF.is_dir():
        pytest.skip(f"reference data not available: {REF}")
    files = [
        FilePayload(name=p.name, mimeType="application/json", buffer=p.read_bytes())
        for p in sorted(REF.glob("*.json"))
    ]
    open_page(page, f"{server_url}/similarity?dataset=upload&sim_view=Neighbours&sim_target=Dumbo")
    page.get_by_test_id("stSidebar").locator("input[type=file]").first.set_input_files(files)
    main = page.get_by_test_id("stMain")
    for p in files:
        expect(main.get_by_text(f"uploaded: {p['name']}", exact=True)).to_be_visible(timeout=60_000)
    settle(page)
    assert len(tables(page)) == 2 * len(files)
    assert_clean(page)
    shoot(page, "upload-four-models")
    enter_text(page, "sim_target", "dumbbo")
    expect(main.get_by_text("cannot embed new text")).to_be_visible()
    main.get_by_role("button", name="Dumbo").click()
    settle(page)
    expect(main.get_by_text("cannot embed new text")).to_have_count(0)
    shoot(page, "upload-nearest-item")
    assert_clean(page)
