"""Packing PSALM samples: mmdet's ``PackDetInputs`` plus the prompt metainfo."""
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS

PSALM_META_KEYS = ('task', 'categories', 'is_thing', 'text', 'region_masks', 'conversation')


@TRANSFORMS.register_module()
class PackPSALMInputs(PackDetInputs):
    """``PackDetInputs`` whose metainfo also carries what PSALM's prompts need.

    ``task``, ``categories``, ``is_thing``, ``text``, ``region_masks`` (after
    :class:`LoadVisualPrompts`) and ``conversation`` are copied when present (see
    ``psalm.models.condition_prompt`` for their meaning). ``meta_keys`` adds to the defaults.
    """

    def __init__(self, meta_keys=(), **kwargs) -> None:
        base = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                'flip_direction')
        keys = tuple(dict.fromkeys(base + PSALM_META_KEYS + tuple(meta_keys)))
        super().__init__(meta_keys=keys, **kwargs)
