# RefCOCOg (UMD splits) referring segmentation, cIoU and gIoU (paper Tab. 8: cIoU val 73.8,
# test 74.4).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_refcocog.py CHECKPOINT
#   ... --cfg-options test_dataloader.dataset.split=test           (val, test)
#   ... --cfg-options test_dataloader.dataset.protocol=per_sentence (LISA's unit; default per_ref)
# Metric rules as in psalm_swinb_phi15_test_refcoco.py.
# Files: data/coco/train2014/, data/coco/refcocog/{instances.json, refs(umd).p}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/refcoco.py']

test_dataloader = dict(dataset=dict(_base_.refcoco_val, ann_file='refcocog/instances.json',
                                   split_file='refcocog/refs(umd).p'))
test_evaluator = _base_.refcoco_evaluator
