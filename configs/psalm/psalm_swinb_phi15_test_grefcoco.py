# gRefCOCO (generalised referring: one, several or no target), zero-shot for PSALM.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_grefcoco.py CHECKPOINT
#   ... --cfg-options test_dataloader.dataset.split=testA          (val, testA, testB)
# One run gives both protocols, from the gres post-processing (GRESPostProcessor: union of the
# masks scoring > 0.6, top-1 mask if none does, and an explicit no-target flag = no mask scores
# > 0.6):
# - ReLA's (gres/gIoU, cIoU, N_acc, T_acc, Pr@0.7/0.8/0.9): the no-target flag decides on
#   no-target samples; the unit is one sample per sentence (protocol='per_sentence', default),
#   as ReLA and GSVA (ReLA Swin-B val: cIoU 62.4, gIoU 63.6);
# - PSALM's (gres/psalm_cIoU, psalm_gIoU; paper Tab. 12: val 42.0 / 43.3, testA 52.4 / 54.5,
#   testB 50.6 / 52.5): the mask as is, LISA's formulas (empty union = IoU 1); PSALM's
#   eval_grefcoco.py joins a ref's sentences, so compare with
#   ... --cfg-options test_dataloader.dataset.protocol=per_ref
# Files: data/coco/train2014/, data/coco/grefcoco/{instances.json, grefs(unc).json}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/grefcoco.py']

test_dataloader = dict(dataset=_base_.grefcoco_val)
test_evaluator = _base_.grefcoco_evaluator
