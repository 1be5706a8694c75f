"""Words and phrases of the field that name one thing, for the keyword side of a search.

A researcher asks about the "hot end" and the thesis says "nozzle"; about the "step size" where it
says "learning rate"; about the "objective" where it says "loss". The dense side often bridges
such pairs, BM25 never does: the passage loses its most telling terms. A query that names one
member of a group therefore also searches the other members, at a lower weight than its own words
(lexical.EXPANSION_WEIGHT), so a passage that uses the asker's own word still comes first.

BUILTIN holds common equivalences of 3D printing and deep learning; `[knowledge] synonyms` adds
the researcher's own (a method's names, a lab's jargon). Matching is on whole words, case and
hyphens ignored ("warm-up" = "warm up"). Only the query is expanded; the index is unchanged. BM25
sees a phrase as its words, so a group whose phrase adds only a generic word ("data", "time")
would add noise, not meaning: such groups are left out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Iterable, Sequence

BUILTIN: tuple[tuple[str, ...], ...] = (
    # printing
    ("hot end", "hotend", "nozzle", "extruder"),
    ("build plate", "print bed", "build platform"),
    ("filament", "feedstock"),
    ("slicer", "slicing software"),
    ("toolpath", "tool path", "g-code", "gcode"),
    ("layer height", "layer thickness"),
    ("under-extrusion", "underextrusion"),
    ("over-extrusion", "overextrusion"),
    ("stringing", "oozing"),
    ("warping", "lifted corners", "curling"),
    ("infill", "fill pattern"),
    ("perimeter", "outer wall", "shell"),
    # learning
    ("learning rate", "step size"),
    ("warm-up", "warmup", "ramp-up"),
    ("loss", "objective", "cost function", "criterion"),
    ("batch", "mini-batch", "minibatch"),
    ("optimiser", "optimizer", "solver"),
    ("inference", "prediction"),
    ("gpu", "graphics card"),
    ("overfitting", "overfit", "memorising"),
    ("weight decay", "l2 regularisation", "l2 regularization"),
    # vision
    ("alignment", "registration"),
    ("segmentation mask", "label map"),
    ("spatial transformer", "stn"),
    ("u-net", "unet"),
)

_SEPARATORS = re.compile(r"[\s\-_]+")


def _normal(text: str) -> str:
    return _SEPARATORS.sub(" ", text.lower()).strip()


@lru_cache(maxsize=64)
def _patterns(groups: tuple[tuple[str, ...], ...]) -> tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]:
    return tuple(
        tuple((_normal(p), re.compile(rf"(?<!\w){re.escape(_normal(p))}(?!\w)")) for p in group if _normal(p))
        for group in groups
    )


def expansions(query: str, groups: Sequence[Sequence[str]]) -> list[str]:
    """The other members of every group the query names (those it does not name itself), in order."""
    text = _normal(query)
    out: list[str] = []
    for group in _patterns(tuple(tuple(g) for g in groups)):
        named = [bool(pattern.search(text)) for _, pattern in group]
        if any(named):
            out += [phrase for (phrase, _), hit in zip(group, named) if not hit and phrase not in out]
    return out


def glossary(own: Iterable[Sequence[str]], builtin: bool = True) -> tuple[tuple[str, ...], ...]:
    """The groups a search uses: the built-in ones (unless switched off) and the researcher's own."""
    return (BUILTIN if builtin else ()) + tuple(tuple(g) for g in own)
