"""Integrity: a fingerprint of everything a score depends on besides train.py.

Two runs are comparable only when their validation split, the harness and metric code,
and the evaluation-relevant config are identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from gg_research.config import Config
from harness.errors import NotComparable

# Source files that define how a run is evaluated (relative to the installed packages).
_FROZEN_MODULES = (
    "harness", "ggnet.metrics", "ggnet.warp", "ggnet.output",
    "ggnet.dataset", "ggnet.manifest", "ggnet.sample_files", "ggnet.render_cache",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_files() -> list[Path]:
    import importlib.util

    files: list[Path] = []
    for name in _FROZEN_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: every module in it
            files.extend(sorted(origin.parent.glob("*.py")))
        else:
            files.append(origin)
    return files


def code_fingerprint() -> str:
    h = hashlib.sha256()
    for path in source_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def eval_config_fingerprint(config: Config) -> str:
    from harness.data import dataset_label

    relevant = {
        "image_size": config.data.image_size,
        "dataset": dataset_label(config),
        "bead_width_mm": config.data.bead_width_mm,
        "objectives": [o.model_dump() for o in config.objectives],
    }
    return _sha(json.dumps(relevant, sort_keys=True).encode())


def frozen_fingerprint(workspace: Path, config: Config, root: Path | None = None) -> dict[str, str]:
    """Hashes of the frozen inputs: validation split, harness+metric code, evaluation config."""
    from ggnet.manifest import split_fingerprint
    from harness.data import dataset_root

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
