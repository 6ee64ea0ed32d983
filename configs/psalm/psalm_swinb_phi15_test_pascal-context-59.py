# Pascal Context 59 val (VOC2010, 5,105 images) open-vocabulary semantic segmentation, mIoU
# (paper Tab. 11: PC-59 48.5), the reference's protocol (task ctx_59): the semantic task
# over the 59 categories (fc-clip's synonym strings).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_pascal-context-59.py CHECKPOINT
# mIoU averages over the classes present in the ground truth (detectron2's SemSegEvaluator, used
# by the reference); test_evaluator.class_average=gt_or_pred_present gives mmseg's convention.
# Files: data/pascal_ctx_d2/images/validation/, annotations_ctx59/validation/*.png (255 ignored).
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.pascal_context_59_val)
test_evaluator = _base_.pascal_context_59_evaluator
