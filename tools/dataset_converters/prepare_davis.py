"""Check a DAVIS-2017 folder for semi-supervised VOS evaluation and say what is missing.

    python tools/dataset_converters/prepare_davis.py [data/DAVIS] [--split val]

Expected layout (DAVIS-2017 "TrainVal - Images and Annotations (480p)",
https://davischallenge.org/davis2017/code.html, DAVIS-2017-trainval-480p.zip; nothing to convert):

    data/DAVIS/
      ImageSets/2017/val.txt                     video names (30 for val)
      JPEGImages/480p/<video>/00000.jpg, ...
      Annotations/480p/<video>/00000.png, ...    indexed PNGs (palette index = object id)

J&F is computed offline from the predicted PNGs with davis2017-evaluation
(https://github.com/davisvideochallenge/davis2017-evaluation).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import numpy as np
from PIL import Image


def check(root: str, split: str = 'val') -> List[str]:
    """Problems found (empty when complete): missing lists, folders, frames and annotations, and
    first-frame annotations that are not indexed PNGs or hold no object."""
    video_list = osp.join(root, 'ImageSets', '2017', f'{split}.txt')
    if not osp.isfile(video_list):
        return [f'{video_list} (DAVIS-2017-trainval-480p.zip)']
    with open(video_list) as f:
        videos = [line.strip() for line in f if line.strip()]
    problems = []
    for video in videos:
        img_dir = osp.join(root, 'JPEGImages', '480p', video)
        ann_dir = osp.join(root, 'Annotations', '480p', video)
        if not osp.isdir(img_dir):
            problems.append(f'{img_dir}/ (frames of {video})')
            continue
        frames = sorted(f[:-4] for f in os.listdir(img_dir) if f.endswith('.jpg'))
        if not frames:
            problems.append(f'{img_dir}/ has no .jpg frame')
            continue
        lacking = [f for f in frames if not osp.isfile(osp.join(ann_dir, f + '.png'))]
        if lacking:
            problems.append(f'{ann_dir}/: {len(lacking)} of {len(frames)} annotations missing, '
                            f'e.g. {lacking[0]}.png')
        first = osp.join(ann_dir, frames[0] + '.png')
        if osp.isfile(first):
            with Image.open(first) as png:
                if png.mode not in ('P', 'L'):
                    problems.append(f'{first}: mode {png.mode}, expected an indexed PNG')
                elif not set(np.unique(np.asarray(png)).tolist()) - {0, 255}:
                    problems.append(f'{first}: no object in the first frame')
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', nargs='?', default='data/DAVIS')
    parser.add_argument('--split', default='val')
    args = parser.parse_args()
    problems = check(args.root, args.split)
    if problems:
        print('missing:\n  ' + '\n  '.join(problems))
        print(__doc__)
        sys.exit(1)
    print(f'{args.root}: DAVIS-2017 {args.split} layout complete')


if __name__ == '__main__':
    main()
