"""tools/dist_train.sh and tools/dist_test.sh with 2 processes on CPU (gloo): the smoke config,
and the tiny PSALM joint config with ranks on different tasks; tools/slurm_train.sh's arguments."""
import json
import os
import os.path as osp
import socket
import sys

import torch

from psalm.testing import make_toy_coco, toy_coco_cfg_options
from test_psalm_train_test import _data

CONFIG = 'configs/smoke/mask2former_r18-tiny_toy-coco-instance.py'
JOINT_CONFIG = 'configs/psalm/psalm_tiny_phi_joint.py'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_and_test_on_cpu(tmp_path, repo_root, run_tool):
    def _run(cmd, cwd):
        return run_tool(cmd, cwd, dict(PYTHON=sys.executable, PORT=str(_free_port())))

    data_root = tmp_path / 'data'
    make_toy_coco(str(data_root), 'train', num_images=4, seed=0)
    make_toy_coco(str(data_root), 'val', num_images=2, seed=1)
    opts = toy_coco_cfg_options(str(data_root))
    config = osp.join(repo_root, CONFIG)
    work = tmp_path / 'work'
    log = _run([osp.join(repo_root, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
                str(work), '--cfg-options', *opts, 'train_cfg.max_iters=2'], tmp_path)
    assert 'Distributed training: True' in log
    assert (work / 'iter_2.pth').is_file()
    _run([osp.join(repo_root, 'tools', 'dist_test.sh'), config, str(work / 'iter_2.pth'),
          '2', '--work-dir', str(tmp_path / 'test'), '--cfg-options', *opts], tmp_path)
    metrics = json.loads(next((tmp_path / 'test').glob('*/*.json')).read_text())
    assert 'coco/segm_mAP' in metrics


def test_joint_ddp_with_a_text_only_rank(tmp_path, repo_root, run_tool):
    """Joint batches give ranks different tasks; the loss normalisers' all-reduce must be
    joined by a rank with a text-only batch too (it used to break the collective)."""
    from psalm.datasets import TaskRatioBatchSampler

    class _Joint:  # what the sampler reads of the JointTaskDataset
        task_ranges = [(0, 4), (4, 8), (8, 12), (12, 14)]
        tasks = ['panoptic', 'referring', 'interactive', 'conversation']

    class _Sampler:
        dataset = _Joint()

        def __len__(self):
            return 14

    seed = 0
    first_tasks = []
    for rank in (0, 1):
        sampler = TaskRatioBatchSampler(_Sampler(), batch_size=2, seed=seed)
        sampler.rank = rank
        first = next(iter(sampler))[0]
        first_tasks.append(next(t for t, (a, b) in zip(_Joint.tasks, _Joint.task_ranges)
                                if a <= first < b))
    # Step 1: one rank trains on a text-only (conversation) batch, the other on segmentation.
    assert sorted(t == 'conversation' for t in first_tasks) == [False, True], first_tasks

    opts = _data(tmp_path, repo_root, run_tool)
    work = tmp_path / 'work'
    log = run_tool([osp.join(repo_root, 'tools', 'dist_train.sh'),
                    osp.join(repo_root, JOINT_CONFIG), '2', '--work-dir', work,
                    '--cfg-options', *opts,
                    f'train_dataloader.batch_sampler.seed={seed}', 'train_cfg.max_iters=2',
                    'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2',
                    'default_hooks.logger.interval=1'], tmp_path,
                   dict(PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1'))
    assert 'Iter(train) [2/2]' in log
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert len(ckpt['rng_states']) == 2  # every rank's RNG states, gathered on rank 0
    assert not torch.equal(ckpt['rng_states'][0]['torch'], ckpt['rng_states'][1]['torch'])


def test_slurm_train_hands_mmdet_arguments_to_srun(tmp_path, repo_root):
    """tools/slurm_train.sh with a stand-in srun that records its arguments (no cluster here)."""
    import subprocess
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n')
    (bin_dir / 'srun').chmod(0o755)
    log = tmp_path / 'srun.txt'
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='16', GPUS_PER_NODE='8',
               SRUN_LOG=str(log), SRUN_ARGS='--quotatype=auto')
    proc = subprocess.run(['bash', osp.join(repo_root, 'tools', 'slurm_train.sh'), 'gpu', 'psalm',
                           'cfg.py', 'work_dirs/x', '--resume'], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    args = log.read_text().split('\n')
    assert args[:2] == ['-p', 'gpu'] and '--job-name=psalm' in args
    assert {'--ntasks=16', '--ntasks-per-node=8', '--gres=gpu:8', '--quotatype=auto'} <= set(args)
    train = args.index(osp.join(repo_root, 'tools', 'train.py'))
    assert args[train + 1:train + 6] == ['cfg.py', '--work-dir=work_dirs/x', '--launcher', 'slurm',
                                         '--resume']
    proc = subprocess.run(['bash', osp.join(repo_root, 'tools', 'slurm_train.sh'), 'gpu'],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and 'usage' in proc.stderr
