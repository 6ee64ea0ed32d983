"""A local file backend whose writes are atomic, for checkpoints that a kill cannot corrupt."""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


class AtomicLocalBackend(LocalBackend):
    """mmengine's :class:`~mmengine.fileio.LocalBackend`, but ``put``/``put_text`` write a
    temporary file in the target's folder, flush it to disk, then ``os.replace`` it onto the
    target. A process killed mid-write leaves the previous file (or none) and a stray
    ``.<name>.*.tmp`` file, never a truncated checkpoint that ``--resume`` would pick up.

    Used through ``backend_args=dict(backend='atomic_local')`` (the default of
    :class:`~psalm.engine.ResumableCheckpointHook`).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        self._atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        self._atomic_write(obj.encode(encoding), str(filepath))

    @staticmethod
    def _atomic_write(data: bytes, filepath: str) -> None:
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp',
                                   dir=folder)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise


register_backend('atomic_local', AtomicLocalBackend, force=True)
