"""Helpers for tests and smoke runs: small datasets generated on the fly (no downloads)."""
from .toy_coco import TOY_CLASSES, make_toy_coco, toy_coco_cfg_options

__all__ = ['TOY_CLASSES', 'make_toy_coco', 'toy_coco_cfg_options']
