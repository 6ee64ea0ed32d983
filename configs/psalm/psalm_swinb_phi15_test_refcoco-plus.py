# RefCOCO+ (UNC splits) referring segmentation, cIoU and gIoU (paper Tab. 8: cIoU val 72.9,
# testA 75.5, testB 70.1).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_refcoco-plus.py CHECKPOINT
#   ... --cfg-options test_dataloader.dataset.split=testA          (val, testA, testB)
#   ... --cfg-options test_dataloader.dataset.protocol=per_sentence (LISA's unit; default per_ref)
# Metric rules as in psalm_swinb_phi15_test_refcoco.py.
# Files: data/coco/train2014/, data/coco/refcoco+/{instances.json, refs(unc).p}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/refcoco.py']

test_dataloader = dict(dataset=dict(_base_.refcoco_val, ann_file='refcoco+/instances.json',
                                   split_file='refcoco+/refs(unc).p'))
test_evaluator = _base_.refcoco_evaluator
