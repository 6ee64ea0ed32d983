# Pascal VOC 2012 val (1,449 images) open-vocabulary semantic segmentation without background,
# 20 classes, mIoU (paper Tab. 11: 81.3), the reference's protocol (task pc_20): the semantic task
# over the 20 categories (fc-clip's synonym strings); background and boundary pixels ignored.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_pascal-voc-20.py CHECKPOINT
# mIoU averages over the classes present in the ground truth (detectron2's SemSegEvaluator, used
# by the reference); test_evaluator.class_average=gt_or_pred_present gives mmseg's convention.
# Files: data/VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation/val.txt}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.pascal_voc_20_val)
test_evaluator = _base_.pascal_voc_20_evaluator
