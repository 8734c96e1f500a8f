"""Python shown in the pages' code expanders, written the way the talk writes it first (plain
functions over lists of floats: ``cosine_similarity(v1, v2)``, ``most_similar``), the numpy
version second. Each builder returns a whole runnable snippet; ``tests/test_snippets.py``
runs them and checks their output against ``core``."""

from __future__ import annotations

from collections.abc import Sequence

# The talk's cosine: plain Python over two equal-length lists of numbers.
COSINE_SIMILARITY = '''def cosine_similarity(v1, v2):
    """Cosine of the angle between v1 and v2: their dot product over both lengths."""
    dot_product = sum(x * y for x, y in zip(v1, v2))
    length1 = sum(x * x for x in v1) ** 0.5
    length2 = sum(y * y for y in v2) ** 0.5
    return dot_product / (length1 * length2)
'''

# The talk's neighbours: score every (label, vector) pair against the target, best first.
MOST_SIMILAR = '''def most_similar(target_vector, labelled_vectors, k=10):
    """The k (label, similarity) pairs closest to target_vector, most similar first."""
    scored = [
        (label, cosine_similarity(target_vector, vector))
        for label, vector in labelled_vectors
    ]
    return sorted(scored, key=lambda pair: pair[1], reverse=True)[:k]
'''

NUMPY_HEADER = "\n# The same with numpy: arrays instead of lists, one call per step.\n"


def openai_embeddings_call(model: str, inputs: str, dimensions: int | None = None) -> str:
    """The talk's SDK call, leaving the embeddings of ``inputs`` (a Python expression: a
    string or a list of strings) under OpenAI's ``model`` in ``response.data``; with
    ``dimensions`` values each when given (text-embedding-3 models shorten their vectors on
    the server: MRL)."""
    shorter = f", dimensions={dimensions}" if dimensions else ""
    return (
        "from openai import OpenAI\n\n"
        "openai_client = OpenAI()  # reads OPENAI_API_KEY (or use AzureOpenAI / base_url=...)\n"
        f"response = openai_client.embeddings.create(model={model!r}, input={inputs}{shorter})\n"
    )


def openai_embeddings_code(model: str, texts: Sequence[str], dimensions: int | None) -> str:
    """:func:`openai_embeddings_call` for ``texts``, then the vectors as the talk keeps them
    (``vectors``, a list of lists of floats)."""
    return (
        openai_embeddings_call(model, repr(list(texts)), dimensions)
        + "vectors = [item.embedding for item in response.data]"
        + (f"  # {dimensions} floats each\n" if dimensions else "\n")
    )


def cosine_similarity_code(setup: str) -> str:
    """Snippet: ``setup`` (lines that define ``v1`` and ``v2``; numpy is imported as ``np``
    before it), the talk's ``cosine_similarity(v1, v2)``, then the same with numpy. Running
    it prints the cosine twice."""
    return (
        "import numpy as np\n\n"
        + setup
        + "\n"
        + COSINE_SIMILARITY
        + "\nprint(cosine_similarity(v1, v2))\n"
        + NUMPY_HEADER
        + "a, b = np.asarray(v1, dtype=float), np.asarray(v2, dtype=float)\n"
        + "print(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))\n"
    )


def _over_the_dataset(setup: str, function: str) -> str:
    """The start of a snippet over the dataset: numpy, a note on ``labels`` and ``vectors``,
    ``setup``, the talk's ``cosine_similarity`` and ``function`` (its source)."""
    return (
        "import numpy as np\n\n"
        "# `labels`: the dataset's items; `vectors`: their (n, d) embeddings, row by row.\n"
        + setup
        + "\n"
        + COSINE_SIMILARITY
        + "\n\n"
        + function
    )


def most_similar_code(setup: str, target: str, k: int) -> str:
    """Snippet: ``setup`` (lines that define ``target_vector``, shape ``(d,)``; ``labels``
    and ``vectors``, ``(n, d)``, are the dataset's), the talk's ``most_similar`` over a list
    of ``(label, vector)`` pairs leaving out ``target`` itself, then the same with numpy
    (the ``k`` most similar). Running it prints the top ``k`` twice."""
    return (
        _over_the_dataset(setup, MOST_SIMILAR)
        + f"\nlabelled_vectors = [(l, v) for l, v in zip(labels, vectors) if l != {target!r}]\n"
        + f"print(most_similar(target_vector, labelled_vectors, k={k}))\n"
        + NUMPY_HEADER
        + "sims = vectors @ target_vector / (\n"
        + "    np.linalg.norm(vectors, axis=1) * np.linalg.norm(target_vector)\n"
        + ")\n"
        + 'order = [i for i in np.argsort(-sims, kind="stable") if labels[i] != '
        + f"{target!r}]\n"
        + f"print([(labels[i], float(sims[i])) for i in order[:{k}]])\n"
    )


# The talk's exhaustive search: score every vector of a list against the query, best first.
EXHAUSTIVE_SEARCH = '''def exhaustive_search(query_vector, vectors):
    """Every (index, similarity) of vectors against query_vector, most similar first."""
    similarities = [
        (i, cosine_similarity(query_vector, vector)) for i, vector in enumerate(vectors)
    ]
    return sorted(similarities, key=lambda pair: pair[1], reverse=True)
'''


def exhaustive_search_code(setup: str, k: int) -> str:
    """Snippet: ``setup`` (lines that define ``query_vector``, shape ``(d,)``; ``labels`` and
    ``vectors``, ``(n, d)``, are the dataset's), the talk's ``exhaustive_search`` over the
    vectors as plain lists, its ``k`` best, then the same with numpy. Running it prints the
    top ``k`` ``(label, similarity)`` pairs twice."""
    return (
        _over_the_dataset(setup, EXHAUSTIVE_SEARCH)
        + "\n\n# Plain Python lists of floats, as in the talk.\n"
        + "results = exhaustive_search(query_vector.tolist(), vectors.tolist())\n"
        + f"print([(labels[i], similarity) for i, similarity in results[:{k}]])\n"
        + NUMPY_HEADER
        + "sims = vectors @ query_vector / (\n"
        + "    np.linalg.norm(vectors, axis=1) * np.linalg.norm(query_vector)\n"
        + ")\n"
        + f'best = np.argsort(-sims, kind="stable")[:{k}]\n'
        + "print([(labels[i], float(sims[i])) for i in best])\n"
    )
