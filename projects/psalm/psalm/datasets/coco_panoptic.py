"""COCO panoptic for PSALM's category condition (generic segmentation)."""
from typing import List

from mmdet.datasets import CocoPanopticDataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class PSALMCocoPanopticDataset(CocoPanopticDataset):
    """mmdet's ``CocoPanopticDataset`` where every non-crowd segment, thing or stuff, is a
    target instance, and each sample carries its category condition.

    Adds to each data info: ``task`` (``'panoptic'`` unless ``task`` says otherwise),
    ``categories`` (the 133 raw panoptic names, e.g. ``wall-other-merged``; the model appends
    ``background``) and ``is_thing``. Each instance gets its ``segment_id`` so that
    :class:`LoadPanopticSegments` reads its mask from the panoptic PNG. The category order is
    shuffled per sample by the model during training (reference behaviour).

    Args:
        task: the task written into each sample (``panoptic``, ``instance`` or ``semantic``).
        **kwargs: :class:`CocoPanopticDataset` arguments.
    """

    def __init__(self, *args, task: str = 'panoptic', **kwargs) -> None:
        self.task = task
        super().__init__(*args, **kwargs)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        data_info = super().parse_data_info(raw_data_info)
        img_id = raw_data_info['raw_img_info']['img_id']
        instances: List[dict] = []
        for ann in raw_data_info['raw_ann_info']:
            x1, y1, w, h = ann['bbox']
            if ann['image_id'] != img_id or ann['area'] <= 0 or w < 1 or h < 1 \
                    or ann.get('iscrowd', False):
                continue
            instances.append(dict(bbox=[x1, y1, x1 + w, y1 + h],
                                  bbox_label=self.cat2label[ann['category_id']],
                                  ignore_flag=0, segment_id=ann['id']))
        classes = list(self.metainfo['classes'])
        things = set(self.metainfo['thing_classes'])
        data_info.update(instances=instances, task=self.task, categories=classes,
                         is_thing=[c in things for c in classes])
        return data_info
