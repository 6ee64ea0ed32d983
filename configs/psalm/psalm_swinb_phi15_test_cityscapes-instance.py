# Cityscapes val open-vocabulary instance segmentation, 8 thing classes, COCO-style mask AP (paper
# Tab. 11: 20.5, column attribution not independently confirmed). The instance task over the 8
# classes (plain names), top 100 (query, class) pairs per image.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_cityscapes-instance.py CHECKPOINT
# Cityscapes' own AP: test_evaluator = dict(type='CityScapesMetric', ...) (needs
# cityscapesscripts, see _base_/datasets/open_vocab.py).
# Files: data/cityscapes/leftImg8bit/val/, annotations/instancesonly_filtered_gtFine_val.json
# (mmdet's tools/dataset_converters/cityscapes.py).
_base_ = [
    './_base_/models/psalm_swinb_phi15.py', './_base_/datasets/open_vocab.py',
    './_base_/default_runtime.py'
]

test_dataloader = dict(
    batch_size=1,  # any batch size gives the same numbers
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_base_.cityscapes_instance_val)
test_evaluator = _base_.cityscapes_instance_evaluator
test_cfg = dict(type='TestLoop')
