# DAVIS-2017 val (30 videos, 480p), semi-supervised video object segmentation, zero-shot for PSALM
# (paper Tab. 13: J&F 68.8, J 65.9, F 71.7).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_davis-2017.py CHECKPOINT
#   tools/dist_test.sh configs/psalm/psalm_swinb_phi15_test_davis-2017.py CHECKPOINT 8
# Every frame from frame 1 on is segmented from visual prompts: the first frame's masks, then
# (VOSTestLoop, the reference's memory) the masks predicted on the previous frame, unless two
# predicted objects overlap with IoU > 0.4. Frames run video by video in time order; the batch
# size is the number of videos run in parallel, and each process of a distributed run takes
# whole videos. Scores (davis/J&F-Mean, J-Mean, F-Mean, J-Recall, F-Recall) follow
# davis2017-evaluation (first and last frames excluded, boundary tolerance 0.008 of the diagonal).
# Indexed PNGs (frame 0 = the given annotation) are written to outfile_prefix for the official
# toolkit:
#   python evaluation_method.py --task semi-supervised --davis_path data/DAVIS \
#       --results_path work_dirs/psalm_swinb_phi15_test_davis-2017/Annotations
# Files: data/DAVIS/{ImageSets/2017/val.txt, JPEGImages/480p/, Annotations/480p/}.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/davis.py']

# Each object takes the best of its top-10 queries that no earlier object took (the reference);
# the default for the vos task (InteractivePostProcessor) lets two objects share a query.
model = dict(test_cfg=dict(postprocess=dict(vos=[dict(type='VOSPostProcessor', top_k=10)])))

# Any batch size (videos run in parallel) and any number of processes give the same numbers:
# VOSTestLoop replaces the sampler's order by its own, the frames of each video in time order.
test_dataloader = dict(dataset=_base_.davis_val)
test_evaluator = dict(
    type='DAVISMetric',
    bound_th=0.008,
    outfile_prefix='./work_dirs/psalm_swinb_phi15_test_davis-2017/Annotations')
test_cfg = dict(type='VOSTestLoop', memory=True, overlap_iou_thr=0.4)
