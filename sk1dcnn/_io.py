"""Atomic file writes: a killed or failed write never leaves half a file (a leaf module)."""

import os

__all__ = ["atomic_write"]


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it to ``path``.

    The rename is atomic, so ``path`` holds either its old content or the new
    one, never a part. If ``write`` raises, the temporary file is removed and
    ``path`` keeps its last good content.

    Parameters
    ----------
    path : str or os.PathLike
    write : callable
        ``write(f)`` with ``f`` a file open for binary writing.
    """
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
