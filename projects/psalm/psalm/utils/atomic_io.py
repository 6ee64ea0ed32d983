"""Writes that a kill cannot leave half done."""
import os
import os.path as osp
import tempfile


def write_bytes_atomic(path: str, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed onto
    ``path`` once complete: a reader or a later run sees the old file (or none), never half a
    new one. ``fsync=True`` also forces the bytes to disk before the rename (checkpoints).

    The file gets the permissions of a plain ``open`` (``mkstemp`` alone would make it 0600).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
