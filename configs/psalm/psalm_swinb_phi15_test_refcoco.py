# RefCOCO (UNC splits) referring segmentation, cIoU and gIoU (paper Tab. 8: cIoU val 83.6,
# testA 84.7, testB 81.6).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_refcoco.py CHECKPOINT
#   ... --cfg-options test_dataloader.dataset.split=testA          (val, testA, testB)
# Sample unit: protocol='per_ref' (default) is PSALM's, the unit of its published numbers: one
# sample per referred object, all its sentences joined (" s1. s2."); LISA / GSVA / GLaMM score one
# sample per sentence:
#   ... --cfg-options test_dataloader.dataset.protocol=per_sentence
# gIoU counts a sample whose prediction and target are both empty as IoU 1 (PSALM, LISA, GSVA;
# never happens on RefCOCO, whose targets are non-empty); test_evaluator.empty_union_iou=0.0
# gives mmdet's RefSegMetric rule.
# Files: data/coco/train2014/, data/coco/refcoco/{instances.json, refs(unc).p}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/refcoco.py']

test_dataloader = dict(dataset=_base_.refcoco_val)
test_evaluator = _base_.refcoco_evaluator
