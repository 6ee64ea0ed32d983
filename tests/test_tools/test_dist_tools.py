"""tools/dist_train.sh and tools/dist_test.sh with 2 processes on CPU (gloo)."""
import json
import os.path as osp
import socket
import sys

from psalm.testing import make_toy_coco, toy_coco_cfg_options

CONFIG = 'configs/smoke/mask2former_r18-tiny_toy-coco-instance.py'


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
