"""Build models without allocating their weights (parameter counts, shape checks, conversion)."""
import contextlib
from typing import Iterator

import torch
import torch.nn as nn


@contextlib.contextmanager
def empty_weights() -> Iterator[None]:
    """Create every parameter on the ``meta`` device; buffers stay on the CPU.

    Unlike ``with torch.device('meta')``, code that computes Python numbers from tensors during
    construction (e.g. mmdet's Swin drop-path schedule calls ``.item()``) keeps working.
    """
    original = nn.Module.register_parameter

    def register_parameter(module: nn.Module, name: str, param) -> None:
        original(module, name, param)
        if param is not None and param.device.type != 'meta':
            kwargs = dict(requires_grad=param.requires_grad)
            module._parameters[name] = type(param)(param.to('meta'), **kwargs)

    nn.Module.register_parameter = register_parameter
    try:
        yield
    finally:
        nn.Module.register_parameter = original
