"""User text shown as text: Streamlit renders markdown (links, images, colour directives,
icons, LaTeX) in alerts, captions, widget labels and ``st.table`` cells, so every value a user
typed, uploaded or put in a link goes through one of these before it reaches one."""

from __future__ import annotations

import re

# Every ASCII punctuation mark: CommonMark lets each be escaped with a backslash.
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


# Streamlit's markdown turns bare addresses into links *after* escapes are resolved, so
# escaping cannot stop them: an invisible word joiner inside each trigger does.
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=h)(?=ttps?:)|(?<=f)(?=tp:)|(?<=w)(?=ww\.)|(?=@)")
WORD_JOINER = "\u2060"


def md_text(value: object) -> str:
    """``value`` as literal text inside Streamlit markdown (alerts, captions, labels): with
    every punctuation mark escaped and a word joiner (U+2060, invisible) inside ``http:``,
    ``www.`` and before ``@``, user text cannot become a link, an image, a colour directive,
    an icon or LaTeX, and it reads as typed."""
    joined = _AUTOLINK_TRIGGERS.sub(WORD_JOINER, str(value))
    return _MD_PUNCTUATION.sub(r"\\\1", joined)


def md_code(value: object) -> str:
    """``value`` as an inline code span, whatever backticks it holds (for values quoted from
    a link or a file)."""
    text = str(value).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
