"""The benchmark configs through the tools: ``tools/test.py`` (one process, batch size 1) and
``tools/dist_test.sh`` (two processes, gloo on CPU, batch size 2) give the same numbers on toy
data with the same tiny checkpoint, for referring (RefCOCO), interactive (COCO-Interactive) and
video (DAVIS-2017, VOSTestLoop: whole videos per process) segmentation."""
import json
import os.path as osp
import socket
import sys
from collections import OrderedDict

import pytest

from psalm.testing import make_toy_refer
from psalm.testing.tiny_eval import (make_toy_davis, make_toy_interactive, save_random_checkpoint,
                                     tiny_eval_config)

TINY = 'configs/psalm/psalm_tiny_phi_joint.py'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _refcoco(root):
    # Refs of images 1..3 are in 'train', image 4's in 'val': evaluate 'train' (more samples).
    make_toy_refer(str(root), 'refcoco', 'refs(unc).p', num_images=4, seed=3)
    return {'test_dataloader.dataset.data_root': str(root) + '/',
            'test_dataloader.dataset.split': 'train'}


def _interactive(root):
    toy = make_toy_interactive(str(root), 'val', num_images=5, seed=4)
    return {'test_dataloader.dataset.data_root': str(root) + '/',
            'test_dataloader.dataset.ann_file': toy['ann_file'],
            'test_dataloader.dataset.data_prefix.img': toy['img_dir']}


def _davis(root):
    data_root = make_toy_davis(str(root), OrderedDict(a=4, b=3, c=5))
    return {'test_dataloader.dataset.data_root': data_root,
            'test_evaluator.outfile_prefix': str(root / 'predictions')}


CASES = {
    'refcoco': ('configs/psalm/psalm_swinb_phi15_test_refcoco.py', _refcoco, 'refseg/cIoU'),
    'coco-interactive': ('configs/psalm/psalm_swinb_phi15_test_coco-interactive.py', _interactive,
                         'interactive/point_mIoU'),
    'davis-2017': ('configs/psalm/psalm_swinb_phi15_test_davis-2017.py', _davis,
                   'davis/J&F-Mean'),
}


def _metrics(work_dir):
    files = sorted(work_dir.glob('*/*.json'))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


@pytest.mark.parametrize('name', list(CASES))
def test_single_process_and_dist_test_agree(name, tmp_path, repo_root, run_tool):
    config, make_data, key = CASES[name]
    options = make_data(tmp_path / 'data')
    cfg = tiny_eval_config(osp.join(repo_root, config), osp.join(repo_root, TINY), options)
    cfg_path = str(tmp_path / f'tiny_test_{name}.py')
    cfg.dump(cfg_path)
    checkpoint = save_random_checkpoint(cfg.model, str(tmp_path / 'tiny.pth'))

    run_tool([osp.join(repo_root, 'tools', 'test.py'), cfg_path, checkpoint, '--work-dir',
              str(tmp_path / 'single')], tmp_path)
    log = run_tool([osp.join(repo_root, 'tools', 'dist_test.sh'), cfg_path, checkpoint, '2',
                    '--work-dir', str(tmp_path / 'dist'), '--cfg-options',
                    'test_dataloader.batch_size=2'], tmp_path,
                   dict(PYTHON=sys.executable, PORT=str(_free_port())))
    assert 'Distributed training: True' in log
    # Metric keys are prefixed ('refseg/cIoU'); data_time and time are not metrics.
    single, dist = [{k: v for k, v in _metrics(tmp_path / w).items() if '/' in k}
                    for w in ('single', 'dist')]
    assert key in single and single.keys() == dist.keys()
    for k, v in single.items():
        assert dist[k] == pytest.approx(v, rel=1e-9, abs=1e-9), k
