"""Helpers for tests and smoke runs: small datasets generated on the fly (no downloads)."""
from .toy_coco import (TOY_CLASSES, TOY_PANOPTIC_STUFF, TOY_PANOPTIC_THINGS, make_toy_coco,
                       make_toy_coco_panoptic, make_toy_refer, toy_coco_cfg_options)

__all__ = [
    'TOY_CLASSES', 'TOY_PANOPTIC_THINGS', 'TOY_PANOPTIC_STUFF', 'make_toy_coco',
    'make_toy_coco_panoptic', 'make_toy_refer', 'toy_coco_cfg_options'
]
