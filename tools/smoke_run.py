"""End-to-end smoke run of the installed stack: generate a toy COCO set, train a tiny model for a
few iterations with ``tools/train.py``, then evaluate the last checkpoint with ``tools/test.py``.

    python tools/smoke_run.py [--work-dir work_dirs/smoke] [--config CONFIG]
"""
import argparse
import os.path as osp
import subprocess
import sys

from psalm.testing import make_toy_coco, toy_coco_cfg_options

TOOLS = osp.dirname(osp.abspath(__file__))
DEFAULT_CONFIG = osp.join(TOOLS, '..', 'configs', 'smoke', 'mask2former_r18-tiny_toy-coco-instance.py')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/smoke')
    parser.add_argument('--config', default=osp.normpath(DEFAULT_CONFIG))
    args = parser.parse_args()

    data_root = osp.join(args.work_dir, 'data')
    make_toy_coco(data_root, 'train', num_images=8, seed=0)
    make_toy_coco(data_root, 'val', num_images=4, seed=1)
    opts = toy_coco_cfg_options(data_root)

    train = [sys.executable, osp.join(TOOLS, 'train.py'), args.config, '--work-dir', args.work_dir,
             '--cfg-options', *opts]
    subprocess.run(train, check=True)
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    test = [sys.executable, osp.join(TOOLS, 'test.py'), args.config, checkpoint,
            '--work-dir', args.work_dir, '--cfg-options', *opts]
    subprocess.run(test, check=True)
    print(f'smoke run finished: checkpoint {checkpoint}, logs in {args.work_dir}')


if __name__ == '__main__':
    main()
