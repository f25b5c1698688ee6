"""The data directory holds the database, the vault key and the mail: owner-only, always.

:func:`secure_data_dir` creates it with mode 0700, or, when it already exists, takes group and
other permissions off it and off everything in it (a directory made 0755 by hand, a database
copied in as 0644...), logging one warning that says what it changed. Symbolic links are not
followed. Processes that write there (``serve``, ``worker``, ``demo``) also set the umask to
0077 (:func:`private_umask`), so files made later (SQLite's journal, mail) are owner-only too.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["private_umask", "secure_data_dir"]

log = logging.getLogger(__name__)


def private_umask() -> None:
    """Files and directories this process creates from now on are owner-only."""
    os.umask(0o077)


def _fix(path: Path, changed: list[str], root: Path, keep: frozenset[Path]) -> None:
    if path.resolve() in keep:
        return
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return
    mode = stat.S_IMODE(info.st_mode)
    wanted = mode & ~0o077
    if stat.S_ISDIR(info.st_mode):
        wanted |= 0o700
    if wanted != mode:
        os.chmod(path, wanted)
        name = "." if path == root else str(path.relative_to(root))
        changed.append(f"{name} {mode:04o} -> {wanted:04o}")


def secure_data_dir(path: Path, *, keep: tuple[Path, ...] = ()) -> list[str]:
    """Create ``path`` (0700) or make it and its contents owner-only; what was changed.

    ``keep``: files left as they are (the vault key file: one open to others is refused at
    start-up, saying so, since its key may already have been read).
    """
    path = Path(path)
    kept = frozenset(p.resolve() for p in keep)
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # whatever the umask
        return []
    changed: list[str] = []
    _fix(path, changed, path, kept)
    for current, dirs, files in os.walk(path):
        base = Path(current)
        for name in [*dirs, *files]:
            try:
                _fix(base / name, changed, path, kept)
            except OSError as exc:  # not ours to change: say so, go on
                changed.append(f"{name}: cannot change ({exc.strerror})")
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        log.warning(
            "the data directory %s was open to group or others; made owner-only: %s",
            path,
            shown,
        )
    return changed
