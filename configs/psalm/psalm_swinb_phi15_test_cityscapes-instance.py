# Cityscapes val open-vocabulary instance segmentation, 8 thing classes, COCO-style mask AP (paper
# Tab. 11: 20.5, column attribution not independently confirmed). The instance task over the 8
# classes (plain names), top 100 (query, class) pairs per image.
#   python tools/test.py configs/psalm/psalm_swinb_phi15_test_cityscapes-instance.py CHECKPOINT
# Cityscapes' own AP: test_evaluator = dict(type='CityScapesMetric', ...) (needs
# cityscapesscripts, see _base_/datasets/open_vocab.py).
# Files: data/cityscapes/leftImg8bit/val/, annotations/instancesonly_filtered_gtFine_val.json
# (mmdet's tools/dataset_converters/cityscapes.py).
_base_ = ['./_base_/test_runtime.py', './_base_/datasets/open_vocab.py']

test_dataloader = dict(dataset=_base_.cityscapes_instance_val)
test_evaluator = _base_.cityscapes_instance_evaluator
