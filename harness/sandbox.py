"""The box a run's child process lives in: what it may see, write, reach and inherit.

With bubblewrap (Linux user namespaces; `apt install bubblewrap`) the box is built from an
allow-list, starting from an empty root:
- read-only: the system's programs and libraries (/usr and its links), the few files of /etc a
  program needs to start (loader cache, users, time zone), /sys, the Python environment (its
  prefix and the folders of its import path that hold no workspace or dataset) and the source of
  this package; the run's code view (the workspace files git tracks, never a bytecode cache or a
  dataset) and the trainer's data view;
- writable: its output folder, and private, size-limited tmpfs for /tmp (also HOME and TMPDIR),
  /dev/shm and /run;
- nothing else of the host: no home directory, no other workspace or dataset, no sockets (its own
  empty network namespace, and no host folder that holds a socket); and what must stay hidden
  (Box.hidden: the workspace's state, ledger and repository, those of the workspace a worktree came
  from, the labels) is covered with an empty folder wherever a readable folder would show it;
- its own process namespace, so every process it starts (`setsid` escapees included) ends
  when the run ends; the GPU device nodes only for a CUDA run.
Always, with or without bubblewrap: an environment built from an allow-list (no API key, no
tokens), and the limits of harness.limits (memory, processes, file size).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gg_research.harness.mounts import aliases
from gg_research.workspace_map import RESULTS_DIR

# Exact names and prefixes of the environment a run inherits; everything else is dropped.
ENV_ALLOWED = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONHASHSEED",
               "VIRTUAL_ENV", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
               "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUBLAS_WORKSPACE_CONFIG", "PYTORCH_CUDA_ALLOC_CONF",
               "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
               "TOKENIZERS_PARALLELISM")
ENV_ALLOWED_PREFIXES = ("LC_",)  # the GG_ variables a run gets are the harness's own, set per run
SCRATCH = ".scratch"  # an unboxed run's HOME and TMPDIR, inside its output folder; deleted with it
BOX_TMP = "/tmp"  # a boxed run's HOME and TMPDIR: private tmpfs
# Sizes of the box's private tmpfs; their pages are also charged to the run's memory limit.
TMP_SIZE = 2 * 2**30
SHM_SIZE = 1 * 2**30
RUN_SIZE = 16 * 2**20
VEIL_SIZE = 1 * 2**20  # an empty tmpfs over a hidden folder: holds at most the run's own mount points
# The system part of the allow-list. /usr holds the programs and libraries; the others are links
# into it on a merged-/usr system, or folders of their own on an older one.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of /etc a program needs to start: the loader's cache, users and groups, names, time zone,
# alternatives (links of /usr/bin), fonts and certificates (public). No secret lives in these.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "hosts", "host.conf",
             "localtime", "timezone", "alternatives", "fonts", "ssl", "ca-certificates", "os-release", "mime.types",
             "matplotlibrc")
# The subpackages of this distribution: their folders are bound wherever they are installed.
OWN_PACKAGES = ("gg_research", "gg_research.ggnet", "gg_research.harness", "gg_research.knowledge",
                "gg_research.loop", "gg_research.results", "gg_research.retrieval")


def scratch_dir(out: Path) -> Path:
    """An unboxed run's scratch folder (HOME and TMPDIR), inside its output folder."""
    path = Path(out) / SCRATCH
    path.mkdir(parents=True, exist_ok=True)
    return path


def child_env(extra: dict[str, str], scratch: Path | str) -> dict[str, str]:
    """The run's environment: the allow-listed variables of ours, then `extra`; HOME is scratch."""
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED or k.startswith(ENV_ALLOWED_PREFIXES)}
    env.update(HOME=str(scratch), TMPDIR=str(scratch), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
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


@dataclass(frozen=True)
class Box:
    """What one run may see and write, as paths of the host (each appears at the same path inside)."""

    workdir: Path  # the run's working directory (the workspace's path; only `code` of it is there)
    code: tuple[Path, ...] = ()  # read-only: the run's code view, file by file
    code_dir: Path | None = None  # or: a folder the parent fills with the code view when the run starts
    readable: tuple[Path, ...] = ()  # read-only: the user's extra folders ([run] readable)
    inputs: tuple[Path, ...] = ()  # read-only, made by the parent for this run: the trainer's data view
    writable: tuple[Path, ...] = ()  # the output folder
    # Never shown, even inside a readable folder or the environment's (workspace_map.box_hidden);
    # the run's own inputs and output folder, made inside the workspace's state, are mounted on top.
    hidden: tuple[Path, ...] = ()
    gpu: bool = False


def bwrap_argv(inner: list[str], box: Box) -> list[str]:
    """`inner` inside bubblewrap, in a root made of `box` and the environment's allow-list only.

    Every capability is dropped (a run started by root would otherwise keep root's, remount its
    read-only folders writable and reach the parent's code), /proc/sys is read-only, and /dev and
    the root are made read-only last."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    if box.gpu:
        argv += [arg for node in gpu_nodes() for arg in ("--dev-bind", str(node), str(node))]
    for system_dir in SYSTEM_DIRS:
        argv += _system_entry(Path(system_dir))
    for name in ETC_FILES:
        if os.path.lexists(f"/etc/{name}"):
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    if Path("/sys").is_dir():
        argv += ["--ro-bind", "/sys", "/sys"]
    # Private scratch first, then everything else on top of it (an environment or a workspace
    # under /tmp stays reachable).
    argv += ["--size", str(TMP_SIZE), "--tmpfs", "/tmp", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm",
             "--size", str(RUN_SIZE), "--tmpfs", "/run"]
    if box.code_dir is not None:
        argv += ["--ro-bind", str(box.code_dir), str(box.workdir)]
    else:
        argv += ["--dir", str(box.workdir)]
        for path in box.code:
            argv += ["--ro-bind", str(path), str(path)]
    mounts, last = _run_paths(box)
    return [*argv, *mounts, *last, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", str(box.workdir), "--",
            *inner]


def _run_paths(box: Box) -> tuple[list[str], list[str]]:
    """The mounts of the environment, the readable folders, the veils over what they must not show
    (`veils`), the run's own inputs and output folder, in that order; and the remounts that make
    the veils read-only, which come last. A readable folder inside a hidden one is not shown."""
    # A hidden folder is hidden under every name the mount table gives it (a bind mount shows it twice).
    hidden = [alias for h in box.hidden for alias in (Path(h).resolve(), *aliases(Path(h)))]
    readable = [p for p in box.readable if not any(_contains(h, Path(p).resolve()) for h in hidden)]
    shown = [*environment_paths(), *readable]  # after the code view: an environment may live in the workspace
    argv = [arg for path in shown for arg in ("--ro-bind", str(path), str(path))]
    veiled = veils(hidden, shown)
    for path in veiled:  # an empty folder (or file) over each hidden path a shown folder holds
        argv += ["--size", str(VEIL_SIZE), "--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    argv += [arg for path in box.inputs for arg in ("--ro-bind", str(path), str(path))]
    argv += [arg for path in box.writable for arg in ("--bind", str(path), str(path))]
    return argv, [arg for path in veiled if path.is_dir() for arg in ("--remount-ro", str(path))]


def veils(hidden: Iterable[Path], shown: Iterable[Path]) -> list[Path]:
    """The hidden paths (resolved, existing) that lie in a shown folder, outermost first: what the
    box must cover. One elsewhere is not in the box at all (the box is an allow-list)."""
    roots = [Path(p).resolve() for p in shown]
    found = sorted({h for h in (Path(p).resolve() for p in hidden)
                    if h.exists() and any(_contains(r, h) for r in roots)}, key=lambda p: (len(p.parts), str(p)))
    return [h for i, h in enumerate(found) if not any(_contains(o, h) for o in found[:i])]


def mount_points(code_dir: Path, workdir: Path, paths: Iterable[Path]) -> None:
    """Make, in a code-view folder, the folders where `paths` under the workspace are mounted
    (the output folder, the trainer's view): a read-only code view cannot have them made later."""
    ws = Path(workdir).resolve()
    for path in paths:
        p = Path(path).resolve()
        if ws in p.parents:
            (Path(code_dir) / p.relative_to(ws)).mkdir(parents=True, exist_ok=True)


def stage_code(code_dir: Path, workspace: Path, files: Iterable[Path]) -> None:
    """Copy the code view into its folder, as the files are now: a run started ahead of its
    experiment reads the experiment's own files, never the ones there when it was started."""
    ws = Path(workspace).resolve()
    for path in files:
        target = Path(code_dir) / Path(path).relative_to(ws)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target, follow_symlinks=False)


def _system_entry(path: Path) -> list[str]:
    if path.is_symlink():
        return ["--symlink", os.readlink(path), str(path)]
    return ["--ro-bind", str(path), str(path)] if path.is_dir() else []


def gpu_nodes() -> list[Path]:
    """The NVIDIA device nodes (and AMD's, for ROCm) a CUDA run needs."""
    dev = Path("/dev")
    names = [p for p in dev.glob("nvidia*")] + [dev / n for n in ("kfd", "dri") if (dev / n).exists()]
    return sorted(names)


def environment_paths() -> list[Path]:
    """The Python environment's folders: its prefixes, the import path's folders inside them, and
    this package's source. A folder of the import path outside the prefixes (PYTHONPATH, a `.pth`
    line: it could be another workspace, or the home folder) is not brought in; `[run] readable`
    adds one on purpose."""
    prefixes: list[Path] = []
    for raw in (sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent)):
        path = Path(raw).resolve()
        if path.exists() and str(path) not in ("/", "/usr") and path != Path.home().resolve():
            prefixes.append(path)
    inside = [Path(p).resolve() for p in sys.path if p and any(_contains(pre, Path(p).resolve()) for pre in prefixes)]
    found: list[Path] = []
    for path in [*prefixes, *inside, *(Path(p).resolve() for p in _own_package_dirs())]:
        if not path.exists() or any(_contains(p, path) for p in found):
            continue
        found = [p for p in found if not _contains(path, p)] + [path]
    return found


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def _own_package_dirs() -> list[str]:
    import importlib.util

    out: list[str] = []
    for name in OWN_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            out += list(spec.submodule_search_locations)
    return out


# Untracked files a run may still read: source and small settings files the user has not
# committed yet (a new helper module). Data, images and archives are never among them.
UNTRACKED_CODE = (".py", ".sh", ".toml", ".yaml", ".yml", ".cfg", ".ini")


def code_view(workspace: Path, forbidden: Iterable[Path], mutable: Iterable[str]) -> tuple[Path, ...]:
    """The workspace files a run may read: those git tracks, its untracked source files (not
    ignored, UNTRACKED_CODE) and the mutable files, as regular files in no forbidden folder.
    Never a bytecode cache, runtime state, a link or a dataset."""
    ws = Path(workspace).resolve()
    tracked = _git_files(ws, "--cached")
    untracked = _git_files(ws, "--others", "--exclude-standard") if tracked is not None else _walk(ws)
    names = set(mutable) | (tracked or set()) | {n for n in untracked or () if n.endswith(UNTRACKED_CODE)}
    bad = [Path(p).resolve() for p in forbidden]
    files: list[Path] = []
    for name in sorted(names):
        path = ws / name
        if "__pycache__" in Path(name).parts or name.endswith((".pyc", ".pyo")) or not path.is_file() or path.is_symlink():
            continue
        if ".git" in Path(name).parts or path.resolve() != path or any(_contains(b, path) for b in bad):
            continue  # a link anywhere on the way could lead out of the workspace
        files.append(path)
    return tuple(files)


def _git_files(ws: Path, *which: str) -> set[str] | None:
    """The workspace's files as git lists them; None when it is not a git repository."""
    if not (ws / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(ws), "ls-files", "-z", *which], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return {n for n in out.stdout.decode("utf-8", "replace").split("\0") if n}


def _walk(ws: Path, limit: int = 2000) -> set[str]:
    """A folder that is no git repository: its files outside hidden folders (dot-folders, results)."""
    found: set[str] = set()
    for root, dirs, files in os.walk(ws):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in (RESULTS_DIR, "__pycache__")]
        for name in files:
            found.add(str(Path(root, name).relative_to(ws)))
            if len(found) >= limit:
                return found
    return found
