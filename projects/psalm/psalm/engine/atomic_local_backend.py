"""A local file backend whose writes are atomic, for checkpoints that a kill cannot corrupt."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from psalm.utils.atomic_io import write_bytes_atomic


class AtomicLocalBackend(LocalBackend):
    """mmengine's :class:`~mmengine.fileio.LocalBackend`, but ``put``/``put_text`` write a
    temporary file in the target's folder, flush it to disk, then ``os.replace`` it onto the
    target. A process killed mid-write leaves the previous file (or none) and a stray
    ``.<name>.*.tmp`` file, never a truncated checkpoint that ``--resume`` would pick up.

    Used through ``backend_args=dict(backend='atomic_local')`` (the default of
    :class:`~psalm.engine.ResumableCheckpointHook`).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_bytes_atomic(str(filepath), obj, fsync=True)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_bytes_atomic(str(filepath), obj.encode(encoding), fsync=True)


register_backend('atomic_local', AtomicLocalBackend, force=True)
