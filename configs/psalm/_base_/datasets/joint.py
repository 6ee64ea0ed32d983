# Stage-2 joint training data: every batch holds one task, tasks drawn 1:1:1:1 (reference).
_base_ = ['./coco_panoptic.py', './refcoco.py', './coco_interactive.py', './llava_instruct.py']

joint_tasks = ['panoptic', 'referring', 'interactive', 'conversation']
joint_ratios = [1, 1, 1, 1]
train_dataloader = dict(
    batch_size=4,  # per GPU; 16 GPUs x 4 = the paper's batch of 64
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='TaskRatioBatchSampler', ratios=joint_ratios),
    dataset=dict(
        type='JointTaskDataset',
        tasks=joint_tasks,
        datasets=[
            {{_base_.coco_panoptic_train}}, {{_base_.referring_train}},
            {{_base_.coco_interactive_train}}, {{_base_.llava_instruct_train}}
        ]))

val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={{_base_.coco_panoptic_val}})
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoPanopticMetric',
    ann_file='data/coco/annotations/panoptic_val2017.json',
    seg_prefix='data/coco/annotations/panoptic_val2017/')
test_evaluator = val_evaluator
