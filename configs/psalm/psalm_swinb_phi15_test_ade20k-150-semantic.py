# ADE20K-150 val open-vocabulary semantic segmentation with the reference's protocol
# (psalm/eval/semantic_segmentation.py, task ade_150; paper Tab. 11: mIoU 18.2): the semantic
# task over the 150 categories (fc-clip's synonym strings) in semantic-id order, scored on the
# semantic annotations (0 'other' ignored).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_ade20k-150-semantic.py CHECKPOINT
# mIoU averages over the classes present in the ground truth (detectron2's SemSegEvaluator, used
# by the reference); test_evaluator.class_average=gt_or_pred_present gives mmseg's convention.
# Files: data/ADEChallengeData2016/{images,annotations}/validation/.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.ade20k_150_semantic_val)
test_evaluator = _base_.ade20k_150_semantic_evaluator
