"""`--from TAG` (loop.resume.start_of_new_tag) against ledgers that hold rows of no tag."""

from __future__ import annotations

import pytest

from gg_research.loop.errors import LoopSetupError
from gg_research.loop.resume import start_of_new_tag
from gg_research.results.record import experiment_from_json


def test_from_a_tag_without_keeps_names_the_tags_beside_an_untagged_row() -> None:
    tagged = experiment_from_json("e1", 1, {"id": "e1", "status": "keep", "tag": "night1", "commit": "abc"}, print)
    untagged = experiment_from_json("h1", 2, {"id": "h1", "status": "keep", "commit": "def"}, print)
    assert untagged.tag is None
    # The type checker found that the tags' names were sorted with None among them: a TypeError
    # instead of this one-line error.
    with pytest.raises(LoopSetupError, match=r"--from nosuch: no kept run of that tag in the ledger; tags: night1$"):
        start_of_new_tag(None, "new", [tagged, untagged], "nosuch")  # type: ignore[arg-type]
