# ADE20K-150 val (2,000 images), open-vocabulary (zero-shot: trained on COCO), one run of the
# panoptic task over the 150 categories (fc-clip's synonym strings, as the reference), scored as
# Mask2Former / fc-clip do from a single panoptic run: PQ (all, things, stuff), mask AP on the 100
# thing classes (paper Tab. 11: 9.0) and semantic mIoU.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_ade20k-150.py CHECKPOINT
# The mIoU here is scored against the semantic map of the panoptic PNGs; the paper's ADE-150 mIoU
# (18.2) comes from the reference's semantic script (semantic annotations, categories in semantic
# order): psalm_swinb_phi15_test_ade20k-150-semantic.py.
# Files (mmdet's tools/dataset_converters/ade20k2coco.py, see _base_/datasets/open_vocab.py):
# data/ADEChallengeData2016/images/validation/, ade20k_panoptic_val.json + ade20k_panoptic_val/,
# ade20k_instance_val.json.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.ade20k_150_panoptic_val)
test_evaluator = [
    _base_.ade20k_150_panoptic_evaluator,
    # Labels follow the panoptic json (things first, e.g. 'window'); the instance json uses the
    # semantic ids and names (e.g. 'windowpane'): matched through the shipped class lists.
    dict(type='LabelMappedCocoMetric',
         ann_file=_base_.ade20k_root + 'ade20k_instance_val.json',
         metric=['segm'],
         name_lists=('ade20k_150_panoptic', 'ade20k_150')),
    # Mean over the classes present in the ground truth (detectron2);
    # class_average='gt_or_pred_present' for mmseg's convention.
    dict(type='OVSemSegMetric', class_average='gt_present'),
]
