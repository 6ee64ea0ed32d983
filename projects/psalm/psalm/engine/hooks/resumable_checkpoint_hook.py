"""Checkpoints that resume bit-identically: every rank's RNG states, atomic writes."""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmdet.registry import HOOKS
from .. import atomic_local_backend  # noqa: F401  (registers backend='atomic_local')


def get_rng_state() -> dict:
    """This process's python, numpy, torch (and CUDA) generator states, in tensors and plain
    python values (so ``torch.load(weights_only=True)`` reads them back)."""
    np_state = np.random.get_state(legacy=False)
    state = dict(
        python=random.getstate(),
        numpy=dict(np_state, state=dict(np_state['state'],
                                        key=torch.from_numpy(np_state['state']['key'].copy()))),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state`."""
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = dict(state['numpy'])
    np_state['state'] = dict(np_state['state'], key=np_state['state']['key'].numpy())
    np.random.set_state(np_state)
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


def _tensors_to_lists(obj):
    """Tensors -> (dtype name, list) for ``all_gather_object`` (whose unpickling of tensors
    fails in torch 2.13); :func:`_lists_to_tensors` is the inverse."""
    if isinstance(obj, torch.Tensor):
        return ('__tensor__', str(obj.dtype).split('.')[-1], obj.cpu().tolist())
    if isinstance(obj, dict):
        return {k: _tensors_to_lists(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_tensors_to_lists(v) for v in obj]
    return obj


def _lists_to_tensors(obj):
    if isinstance(obj, tuple) and len(obj) == 3 and obj[0] == '__tensor__':
        return torch.tensor(obj[2], dtype=getattr(torch, obj[1]))
    if isinstance(obj, dict):
        return {k: _lists_to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_lists_to_tensors(v) for v in obj]
    return obj


@HOOKS.register_module()
class ResumableCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook` (same arguments) made for exact resumes.

    - Saving gathers the RNG states (python, numpy, torch, CUDA) of every rank into the
      checkpoint (``rng_states``, one per rank): they differ between ranks once the ranks draw
      different numbers of random values (point sampling, category shuffles, data pipelines).
    - Resuming (``--resume``) restores this rank's states at the first training iteration,
      i.e. *after* mmengine's ``IterBasedTrainLoop`` has replayed the data loader over the
      iterations already trained (which consumes the pipeline's random draws in the main
      process). With the samplers' deterministic streams replayed by that skip, the resumed
      run then draws exactly what the uninterrupted run drew. A checkpoint saved with another
      number of ranks restores nothing (a warning says so). ``load_from`` without ``resume``
      restores nothing either.
    - Files are written atomically (``backend_args=dict(backend='atomic_local')`` by default:
      temp file, fsync, ``os.replace``), so a run killed while saving never leaves a truncated
      ``iter_*.pth`` for ``--resume`` to pick up.

    Exactness holds when nothing between the save and the next iteration draws random numbers
    (a validation run right after a checkpoint does draw: its data loader takes a seed).
    """

    priority = 'VERY_LOW'

    def __init__(self, *args, backend_args: Optional[dict] = None, **kwargs) -> None:
        if backend_args is None and kwargs.get('file_client_args') is None:
            backend_args = dict(backend='atomic_local')
        super().__init__(*args, backend_args=backend_args, **kwargs)
        self._rng_states: Optional[List[dict]] = None
        self._pending_restore: Optional[tuple] = None

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        # Runs on every rank (only the file write is rank 0's), so all ranks join the gather.
        self._rng_states = [_lists_to_tensors(state) for state in
                            all_gather_object(_tensors_to_lists(get_rng_state()))]
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self._rng_states = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._rng_states is not None:
            checkpoint['rng_states'] = self._rng_states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_states')
        iteration = checkpoint.get('meta', {}).get('iter')
        if states is None or iteration is None:
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            print_log(f'The checkpoint holds RNG states of {len(states)} ranks, this run has '
                      f'{world_size}: they are not restored, so the random draws of the resumed '
                      'run differ from an uninterrupted one.', logger='current', level=30)
            return
        self._pending_restore = (iteration, states[rank])

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending_restore is None:
            return
        iteration, state = self._pending_restore
        self._pending_restore = None
        if runner.iter == iteration:  # resumed (load_from alone starts at 0)
            set_rng_state(state)
            print_log(f'Restored the RNG states saved at iteration {iteration}.',
                      logger='current')
