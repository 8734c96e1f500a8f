"""The talk as a guided tour: its steps in the talk's order, each a deep link into one page
and tab of the app (URL path and query parameters) with a one-line caption, and what to upload
or configure where the offline app lacks the talk's data.

Plain data and checks; the tour bar and the tour page (``views/_tour.py``, ``views/talk.py``)
draw it. A step's parameters are the pages' own URL keys (``_ui.bound``), as strings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from core.errors import ExplorerError

URL_KEY = "tour"  # ?tour=N opens (and resumes at) step N, counted from 1
PRESENT_KEY = "present"  # presenter mode's URL key, kept across steps

# What the talk shows with OpenAI vectors, and how to get them here.
_OPENAI_MODELS = (
    "The talk uses OpenAI's text-embedding-ada-002, -3-small and -3-large: add a key in the "
    "sidebar's hosted-model form (or OPENAI_API_KEY in .env) to embed with them."
)
_PELICULAS = (
    "The talk's vectors are the four peliculas JSON files (ada-002, 3-small 1536 and 256, "
    "3-large 256): choose 'Upload a file…' in the sidebar and drop all four."
)


@dataclass(frozen=True)
class Step:
    """One slide of the talk: ``section`` of the talk, a short ``title``, a one-line
    ``caption``, the page's URL path (``""`` is Home) and its query ``params`` (URL key ->
    value as the URL spells it). ``needs`` says what data the talk used that the offline app
    lacks and which local model stands in (empty when the bundled data is what the talk
    shows)."""

    section: str
    title: str
    caption: str
    page: str
    params: Mapping[str, str] = field(default_factory=dict)
    needs: str = ""

    @property
    def tab(self) -> str:
        """The tab the step opens (its ``<page>_view`` parameter), ``""`` for a page's only
        view."""
        return next((v for k, v in self.params.items() if k.endswith("_view")), "")

    def query(self, number: int, presenting: bool) -> dict[str, str]:
        """The step's query parameters, with the tour position ``number`` (from 1) and
        ``present=1`` when presenter mode is on (so it stays on across steps)."""
        out = dict(self.params)
        out[URL_KEY] = str(number)
        if presenting:
            out[PRESENT_KEY] = "1"
        return out


TOUR: tuple[Step, ...] = (
    # ---- What an embedding is
    Step(
        "What an embedding is",
        '"dog" → floats',
        'A model turns "dog" into a fixed-length list of floats: its vector, one bar per value.',
        "embed",
        {"embed_text": "dog", "embed_all": "0"},
    ),
    Step(
        "What an embedding is",
        '"queen" in several models',
        "The same word in every model here: lengths, norms and values all differ.",
        "embed",
        {"embed_text": "queen", "embed_all": "1"},
        needs=_OPENAI_MODELS + " Offline, the four local models stand in.",
    ),
    Step(
        "What an embedding is",
        "The model table",
        "Every model side by side: dimensions, input limit, size, where it runs.",
        "",
    ),
    # ---- Similarity
    Step(
        "Similarity",
        "Cosine of two texts",
        "Cosine similarity of two texts in each model, and the code that computes it.",
        "similarity",
        {"sim_view": "Two texts", "sim_a": "king", "sim_b": "queen"},
    ),
    Step(
        "Similarity",
        "Most similar, per model",
        'The items most similar to "queen": each model ranks them its own way.',
        "similarity",
        {"sim_view": "Neighbours", "sim_target": "queen", "sim_k": "10"},
    ),
    Step(
        "Similarity",
        "Similarity ranges differ",
        "How every similarity to one target spreads: a 0.5 means different things per model.",
        "similarity",
        {"sim_view": "Spread", "sim_target": "queen"},
    ),
    # ---- Vector search
    Step(
        "Vector search",
        "Embed the query",
        "Search starts by embedding the query with the same model as the items.",
        "search",
        {"search_view": "1 · Embed the query", "search_query": "a loyal dog"},
    ),
    Step(
        "Vector search",
        "Query → k closest",
        "Exhaustive search scores every item and keeps the k closest: exact, O(N) per query.",
        "search",
        {"search_view": "3 · Results", "search_query": "a loyal dog", "search_k": "5"},
    ),
    Step(
        "Vector search",
        "The ANN algorithms",
        "Press Build engines: the ANN engines measured here (size, speed, recall).",
        "search",
        {"search_view": "Engines"},
    ),
    Step(
        "Vector search",
        "HNSW: M 16, ef_construction 200, ef 50",
        "HNSW walks a graph of neighbours: the talk's settings, against exhaustive search.",
        "search",
        {
            "search_view": "2 · Search",
            "search_query": "a loyal dog",
            "search_m": "16",
            "search_efc": "200",
            "search_ef": "50",
        },
    ),
    # ---- Distance metrics
    Step(
        "Distance metrics",
        "v1 = [1, 2, 3], v2 = [3, 1, 2]",
        "Magnitudes before normalising (√14 ≈ 3.7417), euclidean, manhattan, dot and cosine.",
        "metrics",
        {"met_view": "Two vectors", "met_a": "1, 2, 3", "met_b": "3, 1, 2", "met_norm": "0"},
    ),
    Step(
        "Distance metrics",
        "Unit vectors",
        "Normalised to length 1: the dot product now equals the cosine similarity.",
        "metrics",
        {"met_view": "Two vectors", "met_a": "1, 2, 3", "met_b": "3, 1, 2", "met_norm": "1"},
    ),
    Step(
        "Distance metrics",
        "Cosine equals dot on unit vectors",
        "Checked on real data: unit-length vectors rank the same by dot and by cosine.",
        "metrics",
        {"met_view": "Unit length, checked"},
    ),
    # ---- Quantization
    Step(
        "Quantization",
        "int8: the process",
        "Global min and max, scaled to [0, 1], times 255, rounded, minus 128: one byte a value.",
        "quantization",
        {"quant_view": "Before and after", "quant_precision": "int8", "quant_target": "queen"},
    ),
    Step(
        "Quantization",
        "int8: the ranking",
        "The top-k by cosine of the int8 codes; ✅ where float32 finds the same item.",
        "quantization",
        {"quant_view": "Top-k", "quant_precision": "int8", "quant_target": "queen"},
    ),
    Step(
        "Quantization",
        "Binary, around a centre",
        "One bit a value: 1 above the global mean of all numbers, 0 otherwise.",
        "quantization",
        {
            "quant_view": "Before and after",
            "quant_precision": "binary",
            "quant_center": "mean",
            "quant_target": "queen",
        },
    ),
    Step(
        "Quantization",
        "Binary: the ranking",
        "The top-k by cosine of the 0/1 vectors: 32 times smaller, and some items change.",
        "quantization",
        {
            "quant_view": "Top-k",
            "quant_precision": "binary",
            "quant_center": "mean",
            "quant_target": "queen",
        },
    ),
    Step(
        "Quantization",
        "Storage of one 1536-d vector",
        "One 1536-d vector in every precision, from a Python list to one bit per value.",
        "quantization",
        {
            "quant_view": "Storage",
            "quant_calc_n": "1",
            "quant_calc_dims": "1536",
            "quant_calc_precision": "float32",
            "quant_calc_overhead": "0.0",
        },
    ),
    Step(
        "Quantization",
        "Index size in a vector database",
        "The talk's Azure AI Search index: 200,000 vectors of 1536 d with 27.5 B overhead each.",
        "quantization",
        {
            "quant_view": "Storage",
            "quant_calc_n": "200000",
            "quant_calc_dims": "1536",
            "quant_calc_precision": "int8",
            "quant_calc_overhead": "27.5",
        },
    ),
    # ---- MRL
    Step(
        "MRL",
        "Keep the first dimensions",
        "MRL-trained models keep their quality when cut short; others lose it fast.",
        "mrl",
        {"mrl_view": "Recall curves", "mrl_all": "0"},
        needs=_PELICULAS + " Offline, the PCA-ordered static model plays 3-large's part.",
    ),
    Step(
        "MRL",
        "Full vs truncated ranking",
        "One query ranked with every dimension and with the first few (the SDK's dimensions=256).",
        "mrl",
        {"mrl_view": "One ranking", "mrl_target": "queen", "mrl_dims": "64"},
        needs=_PELICULAS + " Offline, static-minilm-256 cut to 64 stands in for 1536 → 256.",
    ),
    Step(
        "MRL + quantization",
        "Oversample and rescore",
        "Search the small codes for k × factor candidates, rescore them with float32.",
        "quantization",
        {"quant_view": "Oversample and rescore", "quant_precision": "binary", "quant_factor": "4"},
    ),
    Step(
        "MRL + quantization",
        "Truncate, quantize, rescore",
        "The whole pipeline: fewer dimensions, fewer bits, then a float32 rescore wins recall "
        "back.",
        "mrl",
        {"mrl_view": "Full pipeline", "mrl_factor": "4"},
    ),
)


def tour_step(raw: str | None, steps: tuple[Step, ...] = TOUR) -> int | None:
    """The step number (from 1) that the URL's ``?tour=`` value asks for; None when absent.

    Raises ExplorerError naming the value when it is not a whole number from 1 to
    ``len(steps)``."""
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= len(steps):
        raise ExplorerError(
            f"Tour step {raw!r} does not exist: the tour has steps 1 to {len(steps)}."
        )
    return int(text)


def check_tour(steps: tuple[Step, ...], pages: Collection[str]) -> None:
    """Check that the tour is usable: at least one step, every step on one of ``pages``
    (URL paths, ``""`` for Home), a title and a one-line caption, parameters that are
    strings under page keys (never the tour's own keys), a section that is not split.

    Raises ExplorerError naming the step and the offending value."""
    if not steps:
        raise ExplorerError("The tour has no steps.")
    seen: list[str] = []
    for number, step in enumerate(steps, start=1):
        where = f"Tour step {number} ({step.title!r})"
        if step.page not in pages:
            raise ExplorerError(f"{where}: page {step.page!r} is not one of {sorted(pages)}.")
        if not step.title.strip() or not step.caption.strip() or "\n" in step.caption:
            raise ExplorerError(f"{where}: needs a title and a one-line caption.")
        for key, value in step.params.items():
            if key in (URL_KEY, PRESENT_KEY) or not key.isidentifier():
                raise ExplorerError(f"{where}: {key!r} is not a page's URL key.")
            if not isinstance(value, str):
                raise ExplorerError(f"{where}: {key}={value!r} must be a string, as in a URL.")
        if step.section != (seen[-1] if seen else None):
            if step.section in seen:
                raise ExplorerError(f"{where}: section {step.section!r} is split in two.")
            seen.append(step.section)
