"""Every path at which a folder can be reached through the mount table (bind mounts, a container's
second mount of the same storage), so the box hides a folder by what it is, not by one name of it.

Read from /proc/self/mountinfo: the mount holding a path gives its place within its file system;
every mount of that file system whose root lies above that place shows it again, at its own mount
point. Where there is no mount table to read, a path has no other name that can be found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Mount:
    device: str  # major:minor of the file system
    root: PurePosixPath  # the folder of that file system mounted here
    point: PurePosixPath  # where it is mounted


def read_mounts(text: str) -> list[Mount]:
    """The mounts of a mountinfo text (lines it cannot read are skipped)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        mounts.append(Mount(fields[2], PurePosixPath(_unescape(fields[3])), PurePosixPath(_unescape(fields[4]))))
    return mounts


def aliases(path: Path, mounts: list[Mount] | None = None) -> list[Path]:
    """The other paths that show the folder or file `path` (resolved), by way of the mount table."""
    if mounts is None:
        try:
            mounts = read_mounts(MOUNTINFO.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return []
    target = PurePosixPath(Path(path).resolve())
    holders = [m for m in mounts if _within(m.point, target)]
    if not holders:
        return []
    holder = max(holders, key=lambda m: len(m.point.parts))  # the last one mounted over wins on a tie
    inside = holder.root / target.relative_to(holder.point)
    found = {Path(m.point / inside.relative_to(m.root)) for m in mounts
             if m.device == holder.device and _within(m.root, inside)}
    found.discard(Path(target))
    return sorted(found)


def _within(folder: PurePosixPath, path: PurePosixPath) -> bool:
    return path == folder or folder in path.parents


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    out, i = [], 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
