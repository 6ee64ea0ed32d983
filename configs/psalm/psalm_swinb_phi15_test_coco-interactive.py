# COCO-Interactive val (PSALM's benchmark, paper Tab. 10): mIoU and cIoU over regions, one
# prompt type per run as the reference's --region_mask_type (point 64.3 / 74.0, scribble
# 66.9 / 80.0, box 67.3 / 80.9, mask 67.6 / 82.4).
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_coco-interactive.py CHECKPOINT
#   ... --cfg-options test_dataloader.dataset.prompt_type=scribble   (point, scribble, box, mask)
# Every instance of an image is a region prompted by its own point / scribble / box / mask; its
# prediction is the top-1 query for that region. mIoU = mean over regions of I / U (a region
# whose prediction and target are both empty counts 1), cIoU = sum I / sum U; reported as
# interactive/<type>_mIoU, <type>_cIoU. The prompts are random: use the released
# coco_interactive_val_psalm.json to compare with the paper.
# Files: data/coco/val2017/, data/coco/coco_interactive_val_psalm.json.
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/coco_interactive.py']

test_dataloader = dict(dataset=_base_.coco_interactive_val)
test_evaluator = _base_.coco_interactive_evaluator
