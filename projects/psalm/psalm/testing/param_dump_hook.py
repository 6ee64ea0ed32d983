"""Test helper: every rank writes its parameters before and after training."""
import contextlib
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch.distributed.fsdp import FullyShardedDataParallel

from mmdet.registry import HOOKS


def _save(obj, path: str) -> None:
    torch.save(obj, path + '.tmp')
    os.replace(path + '.tmp', path)


@HOOKS.register_module()
class ParamDumpHook(Hook):
    """Saves ``{out_dir}/params_{before,after}_rank{r}.pth`` (name -> full fp32 CPU tensor, FSDP
    shards gathered) on every rank, so tests can check that data-parallel ranks end identical
    and match a single-process run. Without FSDP, rank 0 also writes ``init.pth``
    (``{'state_dict': ...}``), usable as ``load_from`` to start another run from the same
    weights, and ``wrapper.txt`` (the model wrapper's class name). ``out_dir`` None: ``{work_dir}/params``. Enable with ``custom_imports`` of this
    module and ``custom_hooks=[dict(type='ParamDumpHook')]``.
    """

    def __init__(self, out_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir

    def _dump(self, runner, when: str) -> None:
        wrapper = runner.model
        model = wrapper.module if is_model_wrapper(wrapper) else wrapper
        fsdp = isinstance(wrapper, FullyShardedDataParallel)
        gather = FullyShardedDataParallel.summon_full_params(wrapper, writeback=False) \
            if fsdp else contextlib.nullcontext()
        with gather:
            params = {k: v.detach().float().cpu().clone() for k, v in model.named_parameters()}
            state = None if fsdp else {k: v.detach().cpu().clone()
                                       for k, v in model.state_dict().items()}
        out_dir = self.out_dir or osp.join(runner.work_dir, 'params')
        os.makedirs(out_dir, exist_ok=True)
        _save(params, osp.join(out_dir, f'params_{when}_rank{get_rank()}.pth'))
        if when == 'before' and state is not None and get_rank() == 0:
            _save(dict(state_dict=state), osp.join(out_dir, 'init.pth'))
        if when == 'before' and get_rank() == 0:
            with open(osp.join(out_dir, 'wrapper.txt'), 'w') as f:
                f.write(type(wrapper).__name__)

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')
