"""What the training benchmarks share: a small CPU workspace on an images budget."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def set_key(text: str, key: str, value: str) -> str:
    """`text` with the first `key = ...` line set to `value` (SystemExit if there is none)."""
    text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    if n != 1:
        raise SystemExit(f"benchmark: no '{key}' to set in the config")
    return text


def cpu_workspace(parent: Path, images: int, preset: str, **extra: str) -> Path:
    """`gg-research init` at parent/ws, set to 64 px, 160 synthetic samples of `preset`, the CPU and
    an images budget of `images` (the same work under any load), then `extra` keys; committed."""
    from gg_research.workspace import init_workspace

    ws = init_workspace(parent / "ws")
    toml = (ws / "gg-research.toml").read_text()
    settings = {"image_size": "64", "synth_size": "64", "synth_n": "160", "synth_preset": f'"{preset}"',
                "device": '"cpu"', "budget": '"images"', "budget_images": str(images), "budget_s": "300.0", **extra}
    for key, value in settings.items():
        toml = set_key(toml, key, value)
    (ws / "gg-research.toml").write_text(toml)
    subprocess.run(["git", "-C", str(ws), "commit", "-qam", "benchmark settings"], check=True)
    return ws
