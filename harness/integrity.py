"""Integrity: a fingerprint of everything a score depends on besides train.py.

Two runs are comparable only when their validation split, the harness and metric code,
and the evaluation-relevant config are identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from gg_research.config import Config
from gg_research.ggnet.sources import PACKAGE as GGNET
from gg_research.ggnet.sources import module_files, source_digest
from gg_research.harness.errors import NotComparable

_HARNESS = __name__.rpartition(".")[0]
# The evaluation reads the model's output by attribute, so no import leads to its type.
_ROOTS = (_HARNESS, f"{GGNET}.output")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_files() -> list[Path]:
    """Every module of the harness and every ggnet module it imports, transitively (dataset,
    manifest, render cache, render, gcode, metrics, warp, ...): the code that produces the
    validation inputs and the scores. Derived from the import statements, so it stays complete."""
    return module_files(_ROOTS, [_HARNESS, GGNET])


def code_fingerprint() -> str:
    return source_digest(source_files())


def eval_config_fingerprint(config: Config) -> str:
    from gg_research.harness.data import dataset_label

    relevant = {
        "image_size": config.data.image_size,
        "dataset": dataset_label(config),
        "bead_width_mm": config.data.bead_width_mm,
        "objectives": [o.model_dump() for o in config.objectives],
    }
    return _sha(json.dumps(relevant, sort_keys=True).encode())


def frozen_fingerprint(workspace: Path, config: Config, root: Path | None = None) -> dict[str, str]:
    """Hashes of the frozen inputs: validation split, harness+ggnet code, evaluation config."""
    from gg_research.ggnet.manifest import split_fingerprint
    from gg_research.harness.data import dataset_root

    root = root if root is not None else dataset_root(Path(workspace), config)
    return {
        "val_split": split_fingerprint(root, "val"),
        "harness_code": code_fingerprint(),
        "eval_config": eval_config_fingerprint(config),
    }


def _frozen(x: Mapping[str, Any]) -> Mapping[str, Any]:
    return x["frozen"] if "frozen" in x and isinstance(x["frozen"], Mapping) else x


def check_comparable(a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    """Raise NotComparable naming what differs; a and b are fingerprints or last_run.json dicts."""
    fa, fb = _frozen(a), _frozen(b)
    differ = [k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    if differ:
        detail = ", ".join(f"{k} ({str(fa.get(k))[:10]} vs {str(fb.get(k))[:10]})" for k in differ)
        raise NotComparable(f"runs are not comparable: their frozen inputs differ in {detail}")
