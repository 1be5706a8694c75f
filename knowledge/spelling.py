"""One spelling for the lexical index: British endings mapped to American ones, on both sides.

A thesis written in British English ("optimiser", "localisation", "colour", "centre") is asked
about in American English, and the other way round. BM25 matches whole tokens, so "optimiser" and
"Optimizer" are different terms and the passage that names the thing by its other spelling loses
its rarest, most telling match. Mapping each variant to one form, in the corpus and in the query
alike, makes them one term. No stemming beyond that: Porter stemming merged far more than
spelling and lost more answers than it found on the retrieval benchmark.

The rules rewrite word endings only, and only after a few letters of stem, so short words ("rise",
"wise", "hour", "tour") stay as they are. A longer word that merely looks British ("promise",
"noise") is rewritten too, but in the query and the corpus alike, so it still matches itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# -ise/-yse and their inflections: optimiser, minimised, initialising, localisation, analysed.
_ISE = re.compile(r"(?<=\w\w)([iy])s(e|es|ed|er|ers|ing|ation|ations)$")
# -our: colour, behaviours, favoured ("honourable" is left: only these endings).
_OUR = re.compile(r"(?<=\w\w\w)our(s|ed|ing|ful)?$")
# -tre/-bre: centre, metres, centred (-> centered), fibre.
_RE = re.compile(r"(?<=\w\w)([tb])r(e|es|ed)$")
_RE_ENDING = {"e": "", "es": "s", "ed": "ed"}


def american(token: str) -> str:
    """The token with a British ending rewritten to the American one (lower-case tokens)."""
    token = _ISE.sub(lambda m: f"{m.group(1)}z{m.group(2)}", token)
    token = _OUR.sub(lambda m: f"or{m.group(1) or ''}", token)
    return _RE.sub(lambda m: f"{m.group(1)}er{_RE_ENDING[m.group(2)]}", token)


def normalise_spelling(tokens: Sequence[str]) -> list[str]:
    """bm25s's stemmer hook: it passes the vocabulary's distinct tokens and maps them one to one."""
    return [american(t) for t in tokens]
