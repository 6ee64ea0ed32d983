"""Make the README pictures of the demo: every documented command of ``tools/demo.py``
(``demo.EXAMPLES``) on scikit-image's astronaut photo, with the tiny config and random weights.

Random weights show what the demo draws and writes, not what PSALM predicts. An untrained model
keeps no panoptic segment above the 0.8 class-probability threshold, so the panoptic picture is
made with both panoptic thresholds at 0, and its random text answer is cut at 16 tokens
(everything else runs with the defaults).

    python projects/psalm/resources/demo/make_pictures.py [--out projects/psalm/resources/demo]
"""
import argparse
import os
import os.path as osp
import shlex
import tempfile

import cv2
import numpy as np
import torch

from psalm.apis import PSALMInferencer
from psalm.testing.demo_inputs import make_demo_inputs
from psalm.utils import import_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
CFG_OPTIONS = dict(
    panoptic={'model.test_cfg.postprocess.panoptic': [
        dict(type='PanopticPostProcessor', object_mask_thr=0.0, overlap_thr=0.0),
        dict(type='InstancePostProcessor'), dict(type='SemanticPostProcessor')]},
    vqa={'model.test_cfg.generation.max_new_tokens': 16})


def load_demo_tool():
    return import_script(osp.join(REPO, 'tools', 'demo.py'), 'psalm_demo_tool')


def save_jpeg(path: str, bgr: np.ndarray, width: int = 384, quality: int = 82) -> int:
    """Resize to ``width`` and write a JPEG; returns its size in bytes."""
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(path, small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return os.path.getsize(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=osp.dirname(osp.abspath(__file__)))
    parser.add_argument('--seed', type=int, default=0, help='seed of the random weights')
    args = parser.parse_args()
    demo = load_demo_tool()
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)  # the documented commands read work_dirs/demo_inputs/
        make_demo_inputs('work_dirs/demo_inputs')
        for task, command in demo.EXAMPLES.items():
            torch.manual_seed(args.seed)  # the same random model for every picture
            inferencer = PSALMInferencer(CONFIG, device='cpu', cfg_options=CFG_OPTIONS.get(task))
            argv = [CONFIG] + shlex.split(command) + ['--out-dir', task, '--random-weights']
            demo.run(demo.parse_args(argv), inferencer)
            if task == 'video':
                frames = [cv2.imread(osp.join('video', 'vis', f'{t:05d}.jpg')) for t in (0, 2, 4)]
                picture = np.concatenate(frames, 1)
                size = save_jpeg(osp.join(args.out, 'video.jpg'), picture, width=3 * 256)
            else:
                picture = cv2.imread(osp.join(task, 'vis', 'astronaut.jpg'))
                size = save_jpeg(osp.join(args.out, f'{task}.jpg'), picture)
            print(f'{task}: {size / 1024:.0f} KB')


if __name__ == '__main__':
    main()
