# Cityscapes val (500 images) open-vocabulary semantic segmentation, 19 classes (plain names: no
# synonym list is shipped), mIoU. The reference does not evaluate Cityscapes and the paper
# reports no Cityscapes mIoU; its Cityscapes number is instance AP:
# psalm_swinb_phi15_test_cityscapes-instance.py.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_cityscapes-semantic.py CHECKPOINT
# mIoU averages over the classes present in the ground truth (detectron2);
# test_evaluator.class_average=gt_or_pred_present gives mmseg's convention.
# Files: data/cityscapes/leftImg8bit/val/, gtFine/val/*_gtFine_labelTrainIds.png.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.cityscapes_val)
test_evaluator = _base_.cityscapes_evaluator
