"""DDP through tools/dist_train.sh (2 processes, gloo, CPU) on the tiny PSALM config:

- single task: both ranks end with identical parameters, equal (float tolerance) to one process
  trained with the same global batch, with ranks holding different numbers of masks (so every
  loss normaliser must be global); the same for FSDP (MMEngine's FlexibleRunner + FSDPStrategy,
  sharded like ZeRO-2, started from the single run's initial weights).

The joint config with ranks on different tasks is in test_dist_tools.py.
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from psalm.testing import make_toy_coco_panoptic

EQUALITY_CONFIG = 'tests/test_tools/configs/psalm_tiny_phi_panoptic_ddp-equality.py'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(cmd, cwd) -> str:
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    cmd = ['bash', *cmd] if str(cmd[0]).endswith('.sh') else [sys.executable, *cmd]
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def _panoptic_data(root) -> list:
    train = make_toy_coco_panoptic(str(root / 'coco'), 'train', num_images=4, seed=0)
    # Every toy image has 3 trainable segments; drop one of image 1 so that rank 0 (images 1, 3)
    # and rank 1 (images 2, 4) hold different numbers of masks.
    ann = root / 'coco' / train['ann_file']
    coco = json.loads(ann.read_text())
    coco['annotations'][0]['segments_info'] = coco['annotations'][0]['segments_info'][1:]
    ann.write_text(json.dumps(coco))
    meta, d = train['metainfo'], 'train_dataloader.dataset'
    return [f'{d}.data_root={root / "coco"}/', f'{d}.ann_file={train["ann_file"]}',
            f'{d}.data_prefix.img={train["img_dir"]}', f'{d}.data_prefix.seg={train["seg_dir"]}',
            f'{d}.metainfo.classes={list(meta["classes"])}',
            f'{d}.metainfo.thing_classes={list(meta["thing_classes"])}',
            f'{d}.metainfo.stuff_classes={list(meta["stuff_classes"])}',
            f'{d}.filter_cfg.min_size=8']


def _params(work, when, rank):
    return torch.load(work / 'params' / f'params_{when}_rank{rank}.pth')


def _check_equal_to_single(work, single, name):
    start, rank0, rank1 = _params(work, 'before', 0), _params(work, 'after', 0), \
        _params(work, 'after', 1)
    single_start, single_end = _params(single, 'before', 0), _params(single, 'after', 0)
    assert all(torch.equal(single_start[k], v) for k, v in start.items()), f'{name}: other init'
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), f'{name}: ranks diverged'
    changed, bad = 0, []
    for k in start:
        step, step_single = rank0[k] - start[k], single_end[k] - single_start[k]
        if step_single.abs().max() > 1e-4:
            changed += 1
        # 3 SGD steps: equal up to float rounding (a per-rank normaliser gives ~10-25% here).
        if not torch.allclose(step, step_single, rtol=1e-3, atol=1e-6):
            err = ((step - step_single).norm() / step_single.norm()).item()
            bad.append(f'{k}: relative error {err:.2e}')
    assert changed > 100, f'only {changed} parameters changed: the test shows nothing'
    assert not bad, f'{name} differs from one process:\n' + '\n'.join(bad[:10])


def test_ddp_and_fsdp_equal_one_process_with_the_global_batch(tmp_path, repo_root):
    opts = _panoptic_data(tmp_path)
    config = osp.join(repo_root, EQUALITY_CONFIG)
    dist_train = osp.join(repo_root, 'tools', 'dist_train.sh')
    ddp, fsdp, single = tmp_path / 'ddp', tmp_path / 'fsdp', tmp_path / 'single'
    _run([osp.join(repo_root, 'tools', 'train.py'), config, '--work-dir', single,
          '--cfg-options', *opts, 'train_dataloader.batch_size=4'], tmp_path)  # 1 x batch 4
    log = _run([dist_train, config, '2', '--work-dir', ddp, '--cfg-options', *opts],
               tmp_path)  # 2 ranks x batch 2
    assert 'Distributed training: True' in log
    _check_equal_to_single(ddp, single, 'DDP')

    # FlexibleRunner (the config has a `strategy`), FSDP as in psalm_swinb_phi15_joint_fsdp.py.
    log = _run([dist_train, config, '2', '--work-dir', fsdp, '--cfg-options', *opts,
                'strategy.type=FSDPStrategy',
                'strategy.model_wrapper.type=MMFullyShardedDataParallel',
                'strategy.model_wrapper.sharding_strategy=SHARD_GRAD_OP',
                'strategy.model_wrapper.use_orig_params=True', 'strategy.state_dict_cfg=full',
                f'load_from={single / "params" / "init.pth"}'], tmp_path)
    assert (fsdp / 'params' / 'wrapper.txt').read_text() == 'MMFullyShardedDataParallel'
    _check_equal_to_single(fsdp, single, 'FSDP')
