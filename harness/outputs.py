"""What the parent takes from a run's output folder: named regular files, bounded, never followed.

The output folder is the run's (it wrote there, perhaps hostile): links, folders, FIFOs, hard
links and oversized files are never read or moved. The parent copies each expected file it finds
into the run folder it made itself (temp file + rename), then deletes the output folder whole.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

_COPY_CHUNK = 1 << 20


class OutputProblem(Exception):
    """The run put something other than a regular file where the parent expects one."""


def over_output_cap(written: int, cap_mb: float) -> str:
    """Why a run that wrote `written` bytes to its output folder, past [run] max_output_mb, is invalid."""
    return f"wrote {written / 2**20:.1f} MB to its output folder, over [run] max_output_mb = {cap_mb:g}"


def folder_bytes(folder: Path) -> int:
    """The bytes a folder's files take on disk, links not followed, however deep it is.

    `du` walks with file descriptors, so neither a path longer than PATH_MAX nor a deep tree
    hides anything from it; where it is missing, a walk that cannot see past PATH_MAX."""
    du = shutil.which("du")
    if du is not None:
        try:
            out = subprocess.run([du, "-s", "-B1", "-x", "-P", str(folder)], capture_output=True, text=True, timeout=60)
            return int(out.stdout.split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_blocks * 512
    return total


def take(src_dir: Path, dest_dir: Path, caps: dict[str, int]) -> list[str]:
    """Copy each file named in `caps` (name -> most bytes) from `src_dir` to `dest_dir`.

    Returns the names it copied. Raises OutputProblem for a name that is there but is not a
    plain, single-linked regular file within its cap. A name that is absent is skipped.
    """
    taken: list[str] = []
    for name, cap in caps.items():
        path = Path(src_dir) / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            raise OutputProblem(f"the run left {name} as a {_kind(st.st_mode)}, where a file of the harness goes")
        if st.st_nlink != 1:
            raise OutputProblem(f"the run left {name} as a hard link ({st.st_nlink} names)")
        if st.st_size > cap:
            raise OutputProblem(f"the run left {name} of {st.st_size} bytes, over its cap of {cap}")
        _copy(path, Path(dest_dir) / name, st, cap)
        taken.append(name)
    return taken


def _copy(src: Path, dest: Path, st: os.stat_result, cap: int) -> None:
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            raise OutputProblem(f"{src.name} was replaced while the harness read it")
        remove_own(dest)
        tmp_fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            copied = 0
            with os.fdopen(tmp_fd, "wb") as out:
                while chunk := os.read(fd, _COPY_CHUNK):
                    copied += len(chunk)
                    if copied > cap:
                        raise OutputProblem(f"{src.name} grew past its cap of {cap} bytes while the harness read it")
                    out.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)


def remove_own(path: Path) -> None:
    """Clear the way for a file of the parent's: whatever is at `path` (a link, a folder) goes,
    and nothing it points to is touched."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def discard(folder: Path) -> None:
    """Delete a folder a run wrote in; links in it are removed, never followed, and no depth
    defeats it (`rm` walks without recursion limits; Python's rmtree is the fallback)."""
    rm = shutil.which("rm")
    if rm is not None:
        try:
            subprocess.run([rm, "-rf", "--one-file-system", "--", str(folder)], capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            pass
    if os.path.lexists(folder):
        shutil.rmtree(folder, ignore_errors=True)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
