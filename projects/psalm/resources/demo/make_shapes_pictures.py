"""Make the README pictures of the tiny PSALM trained on the synthetic shapes benchmark: one
``tools/demo.py`` command per task on a val image (never seen in training), with prompts taken
from the val annotations (a referring and a gRES sentence, a point and a box on two objects).

    python projects/psalm/resources/demo/make_shapes_pictures.py CHECKPOINT \
        [--data-root data/shapes] [--image val_000003.jpg] [--out projects/psalm/resources/demo]
"""
import argparse
import json
import os.path as osp
import shlex
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from pycocotools import mask as mask_util

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_shapes_joint.py')


def task_arguments(data_root: str, image: str) -> dict:
    """``tools/demo.py`` arguments per task for ``val/<image>``, from the val annotations."""
    with open(osp.join(data_root, 'refer', 'instances.json')) as f:
        instances = json.load(f)
    img = next(i for i in instances['images'] if i['file_name'] == image)
    anns = [a for a in instances['annotations'] if a['image_id'] == img['id']]
    with open(osp.join(data_root, 'refer', 'refs.json')) as f:
        refs = [r for r in json.load(f) if r['image_id'] == img['id']]
    with open(osp.join(data_root, 'refer', 'grefs.json')) as f:
        grefs = [r for r in json.load(f) if r['image_id'] == img['id']]
    ref = max(refs, key=lambda r: len(r['sentences'][0]['sent']))  # the most specific one
    gref = next((r for r in grefs if len(r['ann_id']) > 1), grefs[0])
    regions = []
    for ann, kind in zip(anns[:2], ('point', 'box')):
        m = mask_util.decode(ann['segmentation']) if isinstance(ann['segmentation'], dict) else \
            mask_util.decode(mask_util.frPyObjects(ann['segmentation'], img['height'],
                                                   img['width'])).max(-1)
        ys, xs = np.nonzero(m)
        k = int(np.argmin((xs - xs.mean())**2 + (ys - ys.mean())**2))  # a point on the object
        regions += ['--region', f'point:{xs[k]},{ys[k]}' if kind == 'point' else
                    f'box:{xs.min()},{ys.min()},{xs.max() + 1},{ys.max() + 1}']
    return dict(
        panoptic=['--categories', 'circle', 'square', 'triangle', 'star', '--stuff', 'sky', 'grass',
                  'wall'],
        referring=['--text', ref['sentences'][0]['sent']],
        gres=['--text', gref['sentences'][0]['sent']],
        interactive=regions,
        vqa=['--question', 'How many objects are there?'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--image', default='val_000003.jpg')
    parser.add_argument('--out', default=osp.dirname(osp.abspath(__file__)))
    args = parser.parse_args()
    image = osp.join(args.data_root, 'val', args.image)
    tiles = []
    with tempfile.TemporaryDirectory() as work:
        for task, extra in task_arguments(args.data_root, args.image).items():
            cmd = [sys.executable, osp.join(REPO, 'tools', 'demo.py'), CONFIG, image, '--task',
                   task, '--weights', args.checkpoint, '--out-dir', osp.join(work, task), *extra]
            print(' '.join(shlex.quote(c) for c in cmd[1:]), flush=True)
            subprocess.run(cmd, check=True)
            vis = cv2.imread(osp.join(work, task, 'vis', osp.splitext(args.image)[0] + '.jpg'))
            tiles.append(cv2.resize(vis, (256, round(vis.shape[0] * 256 / vis.shape[1]))))
    height = max(t.shape[0] for t in tiles)
    row = np.hstack([cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 4, cv2.BORDER_CONSTANT,
                                        value=(255, 255, 255)) for t in tiles])
    path = osp.join(args.out, 'shapes_tasks.jpg')
    cv2.imwrite(path, row, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
