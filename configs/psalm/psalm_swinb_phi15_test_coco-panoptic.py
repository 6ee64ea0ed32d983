# COCO panoptic val2017 with Mask2Former's protocol (paper Tab. 9: PQ 55.9, mAP 45.7, mIoU 66.6):
# PQ / SQ / RQ (all, things, stuff), mask mAP on the 80 thing classes and semantic mIoU, all from
# ONE run of the panoptic task: its post-processing writes pred_panoptic_seg, pred_instances
# (top 100 over thing classes) and pred_sem_seg.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_coco-panoptic.py CHECKPOINT
#   tools/dist_test.sh configs/psalm/psalm_swinb_phi15_test_coco-panoptic.py CHECKPOINT 8
# Files: data/coco/val2017/, annotations/panoptic_val2017.json + panoptic_val2017/*.png,
# annotations/instances_val2017.json (mask AP). The semantic ground truth is made from the panoptic
# PNGs while loading (every segment, crowd included, gets its category; unlabelled pixels are
# ignored), which is what Mask2Former's prepare_coco_semantic_annos_from_panoptic_annos.py writes.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/coco_panoptic.py']

test_dataloader = dict(dataset=_base_.coco_panoptic_val)
test_evaluator = [
    dict(type='CocoPanopticMetric',
         ann_file=_base_.coco_root + 'annotations/panoptic_val2017.json',
         seg_prefix=_base_.coco_root + 'annotations/panoptic_val2017/'),
    # Labels 0..79 are the thing classes, named and ordered as in instances_val2017.json.
    dict(type='CocoMetric', ann_file=_base_.coco_root + 'annotations/instances_val2017.json',
         metric=['segm']),
    # Mean over the classes present in the ground truth (detectron2's SemSegEvaluator);
    # class_average='gt_or_pred_present' for mmseg's convention.
    dict(type='OVSemSegMetric', class_average='gt_present'),
]
