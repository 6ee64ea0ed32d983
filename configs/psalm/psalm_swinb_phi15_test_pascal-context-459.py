# Pascal Context 459 val (VOC2010, 5,105 images) open-vocabulary semantic segmentation, mIoU
# (paper Tab. 11: PC-459 10.2), the reference's protocol (task ctx_459): the semantic task
# over the 459 categories (fc-clip's synonym strings, first synonym only above 200 classes).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_pascal-context-459.py CHECKPOINT
# mIoU averages over the classes present in the ground truth (detectron2's SemSegEvaluator, used
# by the reference); test_evaluator.class_average=gt_or_pred_present gives mmseg's convention.
# Files: data/pascal_ctx_d2/images/validation/, annotations_ctx459/validation/*.tif (16-bit,
# 65535 ignored; tools/dataset_converters/pascal_context_459.py).
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.pascal_context_459_val)
test_evaluator = _base_.pascal_context_459_evaluator  # ignore_index=65535
