"""Check the open-vocabulary evaluation sets and say what is missing and how to get it.

    python tools/dataset_converters/prepare_open_vocab.py [--data-root data] [--dataset NAME ...]

NAME: ade20k, cityscapes, pascal_context, pascal_voc (default: all). Paths are those of
configs/psalm/_base_/datasets/open_vocab.py. Only Pascal Context 459 needs a converter of ours;
the rest is the public release or the output of a public script:

ADE20K-150 (data/ADEChallengeData2016): ADEChallengeData2016.zip from
  http://sceneparsing.csail.mit.edu/ (images/, annotations/: semantic, read as is). For panoptic and
  instance also annotations_instance.tar from the same site (ChallengeData2017), then mmdet's
  converter (it also converts the training split):
    MMDET=$(python -c "import mmdet, os; print(os.path.dirname(mmdet.__file__))")
    CONVERT=$MMDET/.mim/tools/dataset_converters/ade20k2coco.py
    python $CONVERT data/ADEChallengeData2016 --task panoptic
    python $CONVERT data/ADEChallengeData2016 --task instance
  The instance step reads imgCatIds.json and categoryMapping.txt in the dataset folder:
  Mask2Former's datasets/ade20k_instance_imgCatIds.json and
  datasets/ade20k_instance_catid_mapping.txt, renamed.
  Mask2Former's own panoptic json is not usable here (two category names differ from mmdet's).
Cityscapes (data/cityscapes): leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from
  https://www.cityscapes-dataset.com/downloads/ (registration). Semantic maps:
    pip install cityscapesscripts
    CITYSCAPES_DATASET=data/cityscapes csCreateTrainIdLabelImgs
  Instance json: python $MMDET/.mim/tools/dataset_converters/cityscapes.py data/cityscapes \
    --nproc 8 --out-dir data/cityscapes/annotations
Pascal Context (data/pascal_ctx_d2): VOCtrainval_03-May-2010.tar (http://host.robots.ox.ac.uk/
  pascal/VOC/voc2010/) and trainval.tar.gz (https://www.cs.stanford.edu/~roozbeh/pascal-context/,
  extract into VOCdevkit/VOC2010). PC-59: fc-clip's datasets/prepare_pascal_ctx_sem_seg.py (needs
  the Detail API, https://github.com/zhanghang1989/detail-api, and trainval_merged.json; see
  fc-clip's datasets/README.md); it also copies the validation images. PC-459 (16-bit TIFF, 65535
  ignored): python tools/dataset_converters/pascal_context_459.py data/VOCdevkit/VOC2010 \
    data/pascal_ctx_d2
Pascal VOC 20 (data/VOCdevkit/VOC2012): VOCtrainval_11-May-2012.tar from
  http://host.robots.ox.ac.uk/pascal/VOC/voc2012/, read as is (background dropped when loading).
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

# (path relative to the data root, kind, where it comes from); kind 'dir:<suffix>' needs files.
Check = Tuple[str, str, str]
# (image folder, image suffix, map folder, map suffix): every image needs its map.
Pair = Tuple[str, str, str, str]

ADE = 'ADEChallengeData2016/'
CITY = 'cityscapes/'
CTX = 'pascal_ctx_d2/'
VOC = 'VOCdevkit/VOC2012/'
DATASETS: Dict[str, Tuple[List[Check], List[Pair]]] = {
    'ade20k': ([
        (ADE + 'images/validation', 'dir:.jpg', 'ADEChallengeData2016.zip'),
        (ADE + 'annotations/validation', 'dir:.png', 'ADEChallengeData2016.zip'),
        (ADE + 'ade20k_panoptic_val.json', 'file', "mmdet's ade20k2coco.py --task panoptic"),
        (ADE + 'ade20k_panoptic_val', 'dir:.png', "mmdet's ade20k2coco.py --task panoptic"),
        (ADE + 'ade20k_instance_val.json', 'file', "mmdet's ade20k2coco.py --task instance"),
    ], [(ADE + 'images/validation', '.jpg', ADE + 'annotations/validation', '.png'),
        (ADE + 'images/validation', '.jpg', ADE + 'ade20k_panoptic_val', '.png')]),
    'cityscapes': ([
        (CITY + 'leftImg8bit/val', 'dir:_leftImg8bit.png', 'leftImg8bit_trainvaltest.zip'),
        (CITY + 'gtFine/val', 'dir:_gtFine_labelTrainIds.png',
         'gtFine_trainvaltest.zip + csCreateTrainIdLabelImgs'),
        (CITY + 'annotations/instancesonly_filtered_gtFine_val.json', 'file',
         "mmdet's cityscapes.py converter"),
    ], [(CITY + 'leftImg8bit/val', '_leftImg8bit.png', CITY + 'gtFine/val',
         '_gtFine_labelTrainIds.png')]),
    'pascal_context': ([
        (CTX + 'images/validation', 'dir:.jpg', "fc-clip's prepare_pascal_ctx_sem_seg.py"),
        (CTX + 'annotations_ctx59/validation', 'dir:.png',
         "fc-clip's prepare_pascal_ctx_sem_seg.py"),
        (CTX + 'annotations_ctx459/validation', 'dir:.tif',
         'tools/dataset_converters/pascal_context_459.py'),
    ], [(CTX + 'images/validation', '.jpg', CTX + 'annotations_ctx59/validation', '.png'),
        (CTX + 'images/validation', '.jpg', CTX + 'annotations_ctx459/validation', '.tif')]),
    'pascal_voc': ([
        (VOC + 'ImageSets/Segmentation/val.txt', 'file', 'VOCtrainval_11-May-2012.tar'),
        (VOC + 'JPEGImages', 'dir:.jpg', 'VOCtrainval_11-May-2012.tar'),
        (VOC + 'SegmentationClass', 'dir:.png', 'VOCtrainval_11-May-2012.tar'),
    ], []),
}


def _files(folder: str, suffix: str) -> List[str]:
    """Paths relative to ``folder`` of its files ending with ``suffix`` (recursive)."""
    found = []
    for root, _, names in os.walk(folder):
        found += [osp.relpath(osp.join(root, n), folder) for n in names if n.endswith(suffix)]
    return found


def check(data_root: str, name: str) -> List[str]:
    """Problems found for one dataset (empty when complete)."""
    checks, pairs = DATASETS[name]
    problems = []
    for rel, kind, source in checks:
        path = osp.join(data_root, rel)
        if kind == 'file':
            if not osp.isfile(path):
                problems.append(f'{path} ({source})')
        elif not osp.isdir(path):
            problems.append(f'{path}/ ({source})')
        elif not _files(path, kind[4:]):
            problems.append(f'{path}/ has no *{kind[4:]} file ({source})')
    for img_rel, img_suffix, map_rel, map_suffix in pairs:
        img_dir, map_dir = osp.join(data_root, img_rel), osp.join(data_root, map_rel)
        if not (osp.isdir(img_dir) and osp.isdir(map_dir)):
            continue  # already reported
        maps = set(_files(map_dir, map_suffix))
        lacking = [f for f in _files(img_dir, img_suffix)
                   if f[:-len(img_suffix)] + map_suffix not in maps]
        if lacking:
            problems.append(f'{map_dir}/: no map for {len(lacking)} image(s) of {img_dir}/, '
                            f'e.g. {lacking[0][:-len(img_suffix)] + map_suffix}')
    if name == 'pascal_voc' and not problems:
        with open(osp.join(data_root, VOC, 'ImageSets/Segmentation/val.txt')) as f:
            stems = [line.strip() for line in f if line.strip()]
        lacking = [s for s in stems
                   if not osp.isfile(osp.join(data_root, VOC, 'SegmentationClass', s + '.png'))
                   or not osp.isfile(osp.join(data_root, VOC, 'JPEGImages', s + '.jpg'))]
        if lacking:
            problems.append(f'{len(lacking)} image(s) of val.txt lack their JPEG or PNG, '
                            f'e.g. {lacking[0]}')
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data')
    parser.add_argument('--dataset', nargs='+', choices=sorted(DATASETS),
                        default=sorted(DATASETS))
    args = parser.parse_args()
    incomplete = False
    for name in args.dataset:
        problems = check(args.data_root, name)
        if problems:
            incomplete = True
            print(f'{name}: missing\n  ' + '\n  '.join(problems))
        else:
            print(f'{name}: complete')
    if incomplete:
        print(__doc__)
        sys.exit(1)


if __name__ == '__main__':
    main()
