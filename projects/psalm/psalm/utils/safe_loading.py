"""Safe loading of the checkpoints MMEngine saves, under torch >= 2.6.

torch >= 2.6 unpickles with ``weights_only=True`` by default and mmengine 0.10.7 never passes
``weights_only``, so every checkpoint mmengine saves (its ``meta`` holds a ``MessageHub`` with
``HistoryBuffer`` objects and numpy arrays) fails to load for ``--resume``, ``load_from`` and
``tools/test.py``. Instead of turning safe loading off (``weights_only=False`` or
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which would also unpickle arbitrary files from the
internet), we allow-list exactly the globals mmengine writes. Everything else is still refused.
"""
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_REGISTERED = False


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """A ``getattr`` that only resolves ``HistoryBuffer``'s statistics methods.

    ``HistoryBuffer.__getstate__`` stores its ``_statistics_methods`` (plain functions such as
    ``HistoryBuffer.mean``), which pickle writes as ``getattr(HistoryBuffer, 'mean')``. Allowing
    the real ``builtins.getattr`` would let a file reach any attribute of any allowed object.
    """
    # The four built-in statistics are registered lazily (in ``HistoryBuffer.__init__``).
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) while loading a checkpoint: only '
        'HistoryBuffer statistics methods are allowed.')


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    core = getattr(np, '_core', None) or np.core
    globals_: List[Union[Callable, Tuple[Callable, str]]] = [np.ndarray, np.dtype]
    # Pickles written under numpy 1.x name `numpy.core`, under 2.x `numpy._core`.
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        globals_.append((core.multiarray._reconstruct, f'{mod}._reconstruct'))
        globals_.append((core.multiarray.scalar, f'{mod}.scalar'))
    # numpy 2 may pickle the dtype class itself (e.g. numpy.dtypes.Float64DType).
    for scalar_type in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                        np.uint32, np.uint64, np.float16, np.float32, np.float64, np.str_):
        globals_.append(type(np.dtype(scalar_type)))
    return globals_


def register_mmengine_safe_globals() -> None:
    """Allow-list the globals of mmengine checkpoints for ``torch.load(weights_only=True)``.

    Idempotent; called when :mod:`psalm` is imported, so every config that imports the plugin
    (``custom_imports``) and every tool of this repository can resume and test checkpoints.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    safe: List[Union[Callable, Tuple[Callable, str]]] = [HistoryBuffer]
    safe += _numpy_globals()
    safe += [(_history_buffer_getattr, 'builtins.getattr'),
             (_history_buffer_getattr, '__builtin__.getattr')]
    torch.serialization.add_safe_globals(safe)
    _REGISTERED = True
