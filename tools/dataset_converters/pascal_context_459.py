"""Pascal Context 459: the official ``.mat`` labels -> fc-clip's 16-bit TIFF maps (PC-459 GT).

    python tools/dataset_converters/pascal_context_459.py data/VOCdevkit/VOC2010 data/pascal_ctx_d2

Input: ``VOC2010/trainval/<name>.mat`` from ``trainval.tar.gz`` of
https://www.cs.stanford.edu/~roozbeh/pascal-context/ (extract it into ``VOCdevkit/VOC2010``);
each holds ``LabelMap`` (uint16, 0 = unlabelled, 1..459 = the ids of the dataset's labels.txt).
Output: ``<out>/annotations_ctx459/<split>/<name>.tif`` with 0 -> 65535 (ignored) and k -> k - 1,
byte for byte what fc-clip's ``datasets/prepare_pascal_ctx_full_sem_seg.py`` (from ODISE) writes
and what the reference evaluates (``ignore_label`` 65535).

Which images: by default those in ``<out>/images/<split>``, the images fc-clip's PC-59 step
(``prepare_pascal_ctx_sem_seg.py``, Detail API) copies there. Without that step, pass
``--image-list`` (one image name per line, e.g. mmseg's ``ImageSets/SegmentationContext/val.txt``)
and ``--copy-images`` to copy the JPEGs from ``VOC2010/JPEGImages``.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import List, Optional

import numpy as np
from PIL import Image

IGNORE = 65535


def convert_label_map(label_map: np.ndarray) -> np.ndarray:
    """``LabelMap`` (uint16, 0 = unlabelled) -> ids 0..458 with 65535 ignored."""
    if label_map.dtype != np.uint16:
        raise ValueError(f'LabelMap should be uint16, got {label_map.dtype}')
    # fc-clip's steps, in uint16 arithmetic: 0 -> 65535 -> 65534 -> 65535.
    out = label_map.copy()
    out[out == 0] = IGNORE
    out = out - 1
    out[out == IGNORE - 1] = IGNORE
    return out


def convert(voc_dir: str, out_dir: str, split: str = 'validation',
            image_list: Optional[str] = None, copy_images: bool = False) -> List[str]:
    """Write the TIFF maps of one split; returns the names converted."""
    from scipy.io import loadmat  # only needed here

    img_out = osp.join(out_dir, 'images', split)
    if image_list:
        with open(image_list) as f:
            names = [line.strip() for line in f if line.strip()]
    elif osp.isdir(img_out):
        names = sorted(osp.splitext(f)[0] for f in os.listdir(img_out) if f.endswith('.jpg'))
    else:
        raise FileNotFoundError(f'{img_out} does not exist: run fc-clip\'s PC-59 preparation '
                                'first or pass --image-list')
    if not names:
        raise ValueError('no image to convert')
    mat_dir = osp.join(voc_dir, 'trainval')
    missing = [n for n in names if not osp.isfile(osp.join(mat_dir, n + '.mat'))]
    if missing:
        raise FileNotFoundError(f'{len(missing)} label file(s) missing in {mat_dir}, e.g. '
                                f'{missing[0]}.mat (extract PASCAL-Context trainval.tar.gz there)')
    ann_out = osp.join(out_dir, 'annotations_ctx459', split)
    os.makedirs(ann_out, exist_ok=True)
    if copy_images:
        os.makedirs(img_out, exist_ok=True)
    for name in names:
        label = convert_label_map(loadmat(osp.join(mat_dir, name + '.mat'))['LabelMap'])
        Image.fromarray(label).save(osp.join(ann_out, name + '.tif'))
        if copy_images:
            shutil.copy2(osp.join(voc_dir, 'JPEGImages', name + '.jpg'), img_out)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('voc_dir', help='VOCdevkit/VOC2010 (with trainval/*.mat)')
    parser.add_argument('out_dir', help='pascal_ctx_d2 output folder')
    parser.add_argument('--split', default='validation')
    parser.add_argument('--image-list', help='image names to convert, one per line')
    parser.add_argument('--copy-images', action='store_true',
                        help='also copy the JPEGs to <out>/images/<split>')
    args = parser.parse_args()
    try:
        names = convert(args.voc_dir, args.out_dir, args.split, args.image_list,
                        args.copy_images)
    except (FileNotFoundError, ValueError) as e:
        print(e)
        sys.exit(1)
    print(f'wrote {len(names)} maps to {osp.join(args.out_dir, "annotations_ctx459", args.split)}')


if __name__ == '__main__':
    main()
