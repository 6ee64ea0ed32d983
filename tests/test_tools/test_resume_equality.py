"""Resuming without loss: a tiny joint training run killed after a checkpoint and resumed with
``--resume`` ends with exactly the parameters of an uninterrupted run (CPU, deterministic mode),
runs each iteration once, and continues the joint sampler's task sequence; checkpoints are
written atomically and carry every rank's RNG states."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

from test_psalm_train_test import _data

CONFIG = 'tests/test_tools/configs/psalm_tiny_phi_joint_record-tasks.py'
KILL_CONFIG = 'tests/test_tools/configs/psalm_tiny_phi_joint_kill-at-iter4.py'


def _tasks(work) -> dict:
    """{iteration: task} recorded by TaskRecordHook."""
    lines = (work / 'tasks_rank0.txt').read_text().split()
    return {int(i): t for i, t in zip(lines[::2], lines[1::2])}


def _run(args, cwd, env=None):
    import subprocess
    import sys
    env = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, repo_root, run_tool):
    opts = [o for o in _data(tmp_path, repo_root, run_tool) if o.startswith('train_dataloader')]
    train = osp.join(repo_root, 'tools', 'train.py')
    config = osp.join(repo_root, CONFIG)
    common = ['--cfg-options', *opts, 'train_cfg.max_iters=4',
              'randomness.seed=0', 'randomness.deterministic=True',
              'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
              'param_scheduler.0.end=2', 'param_scheduler.1.begin=2', 'param_scheduler.1.T_max=2',
              'param_scheduler.1.end=4', 'optim_wrapper.optimizer.lr=0.01']

    full_work = tmp_path / 'full'
    rc, log_full = _run([train, config, '--work-dir', full_work, *common], tmp_path)
    assert rc == 0, log_full[-3000:]
    full = _tasks(full_work)

    work = tmp_path / 'resumed'
    # The same config plus a hook that SIGKILLs the process before iteration 4 (after the
    # checkpoint of iteration 2; iteration 3 is lost with it).
    rc, log_killed = _run([train, osp.join(repo_root, KILL_CONFIG), '--work-dir', work, *common],
                          tmp_path)
    assert rc == -9, f'the run was meant to die at iteration 4 (rc {rc})\n{log_killed[-3000:]}'
    assert (work / 'iter_2.pth').is_file() and not (work / 'iter_4.pth').exists()
    killed = _tasks(work)
    (work / 'tasks_rank0.txt').unlink()
    assert not list(work.glob('.*.tmp')), 'a temporary checkpoint file was left behind'
    rc, log_resumed = _run([train, config, '--work-dir', work, '--resume', *common], tmp_path)
    assert rc == 0, log_resumed[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log_resumed
    assert 'Restored the RNG states saved at iteration 2' in log_resumed

    # Each iteration ran once: 1-3 before the kill (3 was lost with it), then 3-4 after.
    resumed = _tasks(work)
    assert sorted(full) == [1, 2, 3, 4] and sorted(killed) == [1, 2, 3]
    assert sorted(resumed) == [3, 4]
    # The joint sampler's task sequence continues where it stopped.
    assert {**killed, **resumed} == full
    assert len(set(full.values())) > 1, f'a single task was drawn, nothing is shown: {full}'

    a = torch.load(tmp_path / 'full' / 'iter_4.pth', map_location='cpu')
    b = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    start = torch.load(work / 'iter_2.pth', map_location='cpu')['state_dict']
    assert any(not torch.equal(v, start[k]) for k, v in b['state_dict'].items()
               if v.is_floating_point()), 'iterations 3-4 changed nothing'
    different = [k for k, v in a['state_dict'].items() if not torch.equal(v, b['state_dict'][k])]
    assert not different, f'resumed parameters differ from the uninterrupted run: {different[:5]}'
    for group_a, group_b in zip(a['optimizer']['state'].values(),
                                b['optimizer']['state'].values()):
        assert all(torch.equal(group_a[k], group_b[k]) for k in group_a)
    assert len(b['rng_states']) == 1 and set(b['rng_states'][0]) >= {'python', 'numpy', 'torch'}


def test_atomic_backend_never_leaves_a_partial_file(tmp_path, monkeypatch):
    from mmengine.fileio import get_file_backend

    import psalm  # noqa: F401  (registers the backend)
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    target = tmp_path / 'iter_2.pth'
    backend.put(b'complete old checkpoint', target)

    real_fsync = os.fsync

    def die_mid_write(fd):  # the writer dies after part of the data reached the temp file
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(os, 'fsync', die_mid_write)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new checkpoint that never completes', target)
    monkeypatch.setattr(os, 'fsync', real_fsync)
    assert target.read_bytes() == b'complete old checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_2.pth']  # no temp file either
    backend.put_text('iter_4.pth', tmp_path / 'last_checkpoint')
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_4.pth'


def test_rng_states_round_trip_through_a_safe_checkpoint(tmp_path):
    import random

    from psalm.engine.hooks.resumable_checkpoint_hook import get_rng_state, set_rng_state
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    torch.save(dict(rng_states=[get_rng_state()]), tmp_path / 'ckpt.pth')
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    state = torch.load(tmp_path / 'ckpt.pth', weights_only=True)['rng_states'][0]
    set_rng_state(state)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]
