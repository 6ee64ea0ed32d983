"""tools/train.py and tools/test.py end to end on CPU: train 2 iterations, save, resume to 4,
evaluate the resumed checkpoint. Run from a foreign working directory, with safe loading on."""
import json
import os.path as osp

import torch

from psalm.testing import make_toy_coco, toy_coco_cfg_options

CONFIG = 'configs/smoke/mask2former_r18-tiny_toy-coco-instance.py'


def test_train_save_resume_test(tmp_path, repo_root, run_tool):
    _run = run_tool
    data_root = tmp_path / 'data'
    make_toy_coco(str(data_root), 'train', num_images=4, seed=0)
    make_toy_coco(str(data_root), 'val', num_images=2, seed=1)
    opts = toy_coco_cfg_options(str(data_root))
    config = osp.join(repo_root, CONFIG)
    train = osp.join(repo_root, 'tools', 'train.py')
    test = osp.join(repo_root, 'tools', 'test.py')
    work_dir = tmp_path / 'work'
    cwd = tmp_path  # not the repository: the tools must not depend on it

    _run([train, config, '--work-dir', str(work_dir), '--cfg-options', *opts,
          'train_cfg.max_iters=2', 'train_cfg.val_interval=100'], cwd)
    first = work_dir / 'iter_2.pth'
    assert first.is_file()

    log = _run([train, config, '--work-dir', str(work_dir), '--resume', str(first),
                '--cfg-options', *opts, 'train_cfg.max_iters=4', 'train_cfg.val_interval=100'], cwd)
    assert 'resumed epoch: 0, iter: 2' in log
    last = work_dir / 'iter_4.pth'
    assert last.is_file()
    ckpt = torch.load(last, map_location='cpu')  # weights_only=True (torch default), no env var
    assert ckpt['meta']['iter'] == 4
    before = torch.load(first, map_location='cpu')['state_dict']
    changed = [k for k, v in ckpt['state_dict'].items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed, 'the resumed run did not update any parameter'

    test_dir = tmp_path / 'test'
    _run([test, config, str(last), '--work-dir', str(test_dir), '--out',
          str(tmp_path / 'preds.pkl'), '--cfg-options', *opts], cwd)
    metric_files = list(test_dir.glob('*/*.json'))
    assert metric_files, 'tools/test.py wrote no metrics'
    metrics = json.loads(metric_files[0].read_text())
    assert 'coco/segm_mAP' in metrics
    assert 0.0 <= metrics['coco/segm_mAP'] <= 1.0
    assert (tmp_path / 'preds.pkl').is_file()
