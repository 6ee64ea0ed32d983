"""Import a stand-alone script (``tools/...``, a dataset converter) as a module."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType
from typing import Optional


def import_script(path: str, name: Optional[str] = None) -> ModuleType:
    """The module of the Python file ``path``, registered in ``sys.modules`` under ``name``
    (default: the file's stem), so that worker processes can unpickle its functions. The module
    of the same file imported before is returned as it is; another module under that name (an
    installed package, another script) is an error, not a silent substitute."""
    name = name or osp.splitext(osp.basename(path))[0]
    if not osp.isfile(path):
        raise FileNotFoundError(f'script not found: {path}')
    if name in sys.modules:
        module = sys.modules[name]
        loaded = getattr(module, '__file__', None)
        if loaded is None or not osp.samefile(loaded, path):
            raise ImportError(f'cannot import {path} as {name!r}: that name is already the '
                              f'module of {loaded or "a built-in"}; pass another name')
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # no half-imported module for the next caller
        raise
    return module
