"""Check a COCO panoptic directory and say what is missing and where to get it.

    python tools/dataset_converters/prepare_coco_panoptic.py data/coco

Expected layout (the official COCO 2017 release; nothing needs converting):

    data/coco/
      train2017/*.jpg, val2017/*.jpg
      annotations/panoptic_train2017.json, annotations/panoptic_val2017.json
      annotations/panoptic_train2017/*.png, annotations/panoptic_val2017/*.png
      annotations/instances_val2017.json      (instance mAP on thing classes)

Download from cocodataset.org: "2017 Train images", "2017 Val images" and "2017 Panoptic
Train/Val annotations" (unzip panoptic_annotations_trainval2017.zip, then the two inner
panoptic_{train,val}2017.zip into annotations/). RefCOCO uses train2014 images (see
prepare_refcoco in the data section of projects/psalm/README.md).
"""
import argparse
import json
import os.path as osp
import sys

REQUIRED = [
    ('train2017', 'dir', '2017 Train images'),
    ('val2017', 'dir', '2017 Val images'),
    ('annotations/panoptic_train2017.json', 'file', 'panoptic annotations'),
    ('annotations/panoptic_val2017.json', 'file', 'panoptic annotations'),
    ('annotations/panoptic_train2017', 'dir', 'inner panoptic_train2017.zip'),
    ('annotations/panoptic_val2017', 'dir', 'inner panoptic_val2017.zip'),
    ('annotations/instances_val2017.json', 'file', '2017 Train/Val annotations'),
]


def check(root: str) -> list:
    missing = []
    for rel, kind, source in REQUIRED:
        path = osp.join(root, rel)
        ok = osp.isdir(path) if kind == 'dir' else osp.isfile(path)
        if not ok:
            missing.append(f'{path} ({source})')
    val_json = osp.join(root, 'annotations/panoptic_val2017.json')
    if osp.isfile(val_json):
        with open(val_json) as f:
            head = json.load(f)
        for key in ('images', 'annotations', 'categories'):
            if key not in head:
                missing.append(f'{val_json}: no "{key}" field (not a COCO panoptic file)')
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', nargs='?', default='data/coco')
    args = parser.parse_args()
    missing = check(args.root)
    if missing:
        print('missing:\n  ' + '\n  '.join(missing))
        print(__doc__)
        sys.exit(1)
    print(f'{args.root}: COCO panoptic layout complete')


if __name__ == '__main__':
    main()
