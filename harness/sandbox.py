"""The box a run's child process lives in: what it may see, write, reach and inherit.

With bubblewrap (Linux user namespaces; `apt install bubblewrap`) the child gets:
- no network (its own, empty network namespace);
- the whole file system read-only, with the workspace's runtime state (.gg: data, caches,
  the knowledge base, the Optuna study), its results (the ledger), its git repository, the
  dataset folder and the usual secret folders of the home directory hidden; its only writable
  places are its output folder and a scratch folder inside it (HOME and TMPDIR);
- its own process namespace, so every process it starts (`setsid` escapees included) ends
  when the run ends; the GPU devices stay reachable for a CUDA run.
Always, with or without bubblewrap: an environment built from an allow-list (no API key, no
tokens), and a memory limit (RLIMIT_DATA, which spares CUDA's address-space reservations).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

# Exact names and prefixes of the environment a run inherits; everything else is dropped.
ENV_ALLOWED = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONHASHSEED",
               "VIRTUAL_ENV", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUBLAS_WORKSPACE_CONFIG", "PYTORCH_CUDA_ALLOC_CONF",
               "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
               "TOKENIZERS_PARALLELISM")
ENV_ALLOWED_PREFIXES = ("LC_", "GG_")
SCRATCH = ".scratch"  # not moved into the run folder; deleted with the output folder
# Where credentials usually live under the home directory.
HOME_SECRETS = (".ssh", ".aws", ".config", ".netrc", ".anthropic", ".git-credentials", ".docker", ".kube",
                ".gnupg", ".pypirc", ".cache/huggingface/token")


def scratch_dir(out: Path) -> Path:
    """The run's scratch folder (HOME and TMPDIR), inside its output folder so the box can write it."""
    path = Path(out) / SCRATCH
    path.mkdir(parents=True, exist_ok=True)
    return path


def child_env(extra: dict[str, str], scratch: Path) -> dict[str, str]:
    """The run's environment: the allow-listed variables of ours, then `extra`; HOME is scratch."""
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED or k.startswith(ENV_ALLOWED_PREFIXES)}
    env.update(HOME=str(scratch), TMPDIR=str(scratch), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    env.update(extra)
    return env


@functools.cache
def bwrap_works() -> str | None:
    """Why bubblewrap cannot be used here, or None when it runs."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        proc = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not start: {exc}"
    if proc.returncode != 0:
        return f"bubblewrap cannot make namespaces here: {' '.join(proc.stderr.split())[:160]}"
    return None


def bwrap_argv(inner: list[str], *, workspace: Path, writable: Iterable[Path], readable: Iterable[Path],
               hidden: Iterable[Path], gpu: bool) -> list[str]:
    """`inner` inside bubblewrap; later mounts win, so hidden folders can hold readable/writable ones."""
    # No tmpfs over /tmp: workspaces and environments may live there. Scratch is `scratch_dir`.
    argv = ["bwrap", "--ro-bind", "/", "/", "--proc", "/proc", "--unshare-all", "--die-with-parent", "--new-session"]
    argv += ["--dev-bind", "/dev", "/dev"] if gpu else ["--dev", "/dev"]
    hide = [Path.home() / rel for rel in HOME_SECRETS] + list(hidden)
    for path in hide:
        argv += _hide(path)
    for path in readable:
        argv += ["--ro-bind", str(path), str(path)]
    for path in writable:
        argv += ["--bind", str(path), str(path)]
    # The empty folders over hidden ones become read-only last (after the mount points in them).
    for path in hide:
        if path.is_dir() and not path.is_symlink():
            argv += ["--remount-ro", str(path)]
    return [*argv, "--chdir", str(workspace), "--", *inner]


def _hide(path: Path) -> list[str]:
    if path.is_dir() and not path.is_symlink():
        return ["--tmpfs", str(path)]
    if path.exists():
        return ["--ro-bind", "/dev/null", str(path)]
    return []


def limits(memory_gb: float) -> Callable[[], None]:
    """A preexec function setting the child's resource limits (inherited by all it starts)."""

    def apply() -> None:
        if memory_gb > 0:
            cap = int(memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps of a crashed run

    return apply
