"""The other names of a folder through the mount table (harness.mounts), on mountinfo texts as the
kernel writes them."""

from __future__ import annotations

from pathlib import Path

from gg_research.harness.mounts import aliases, read_mounts

# A root file system, a data disk at /srv, the disk's projects/ bound again at /view (with a space in
# its name), and a tmpfs over /srv/projects/ws/tmp.
MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 8:17 / /srv rw,relatime shared:20 - ext4 /dev/sdb1 rw
41 22 8:17 /projects /my\\040view rw,relatime shared:20 - ext4 /dev/sdb1 rw
42 40 0:50 / /srv/projects/ws/tmp rw - tmpfs tmpfs rw
"""


def test_a_folder_bound_again_is_found_under_its_second_name() -> None:
    mounts = read_mounts(MOUNTINFO)
    assert mounts[2].point == Path("/my view")  # the kernel's octal escape read back
    assert aliases(Path("/srv/projects/ws/results"), mounts) == [Path("/my view/ws/results")]
    assert aliases(Path("/my view/ws/.gg"), mounts) == [Path("/srv/projects/ws/.gg")]


def test_a_folder_outside_what_was_bound_again_has_no_other_name() -> None:
    mounts = read_mounts(MOUNTINFO)
    assert aliases(Path("/srv/elsewhere"), mounts) == []  # the second mount shows projects/ only
    assert aliases(Path("/home/me"), mounts) == []  # the root file system is mounted once
    assert aliases(Path("/srv/projects/ws/tmp/x"), mounts) == []  # the tmpfs over it is its own file system


def test_this_machines_mount_table_reads(tmp_path: Path) -> None:
    # Whatever the machine's mounts, a fresh temporary folder is reached by its own name at least.
    assert Path(tmp_path).resolve() not in aliases(tmp_path)
