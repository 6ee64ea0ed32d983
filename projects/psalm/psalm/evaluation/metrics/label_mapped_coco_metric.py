"""COCO box / mask AP whose labels are matched to the annotation file's categories by name, in
label order (for instance AP scored from a panoptic run whose class names differ)."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from psalm.datasets.class_names import load_class_names


@METRICS.register_module()
class LabelMappedCocoMetric(CocoMetric):
    """mmdet's :class:`~mmdet.evaluation.metrics.CocoMetric` with an explicit label -> category
    mapping.

    ``CocoMetric`` finds the category id of label ``i`` with ``get_cat_ids(cat_names=classes)``,
    which only works when the annotation file spells every class as the dataset does, and lists
    the ids in *file* order rather than label order. Neither holds when instance AP is scored on
    one annotation file from a run on another, e.g. ADE20K-150 instance AP from a panoptic run:
    the labels follow mmdet's panoptic json (100 things first, named ``'window'``, ...), while
    mmdet's instance json (``ade20k2coco.py --task instance``) uses semantic ids and names
    (``'windowpane'``, ...).

    Here label ``i`` gets the id of the annotation category named ``names[i]``, where ``names`` are
    the dataset classes, translated through ``name_lists`` if given: ``(from_list, to_list)``,
    two shipped class lists (``psalm/data/class_names``) whose line ``j`` names the same class,
    e.g. ``('ade20k_150_panoptic', 'ade20k_150')``. The labels whose category is in the file
    must be ``0 .. n-1`` (things first, as mmdet's panoptic datasets order them); a prediction
    with another label is an error. Names are compared without surrounding spaces.

    Args:
        name_lists: optional ``(from_list, to_list)`` names of shipped class lists.
        **kwargs: :class:`~mmdet.evaluation.metrics.CocoMetric` arguments (``ann_file`` is
            required).
    """

    def __init__(self, *args, name_lists: Optional[Sequence[str]] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._coco_api is None:
            raise ValueError('LabelMappedCocoMetric needs an ann_file to map labels into')
        if name_lists is not None and len(name_lists) != 2:
            raise ValueError(f'name_lists must be (from_list, to_list), got {name_lists!r}')
        self.name_lists = None if name_lists is None else tuple(name_lists)

    def label_cat_ids(self) -> List[int]:
        """Category id of each label that the annotation file has (labels 0..n-1)."""
        classes = [str(c).strip() for c in self.dataset_meta['classes']]
        names = classes
        if self.name_lists is not None:
            src = [n.strip() for n in load_class_names(self.name_lists[0])]
            dst = [n.strip() for n in load_class_names(self.name_lists[1])]
            table = dict(zip(src, dst))
            unknown = [c for c in classes if c not in table]
            if unknown:
                raise ValueError(f'classes {unknown} are not in the class list '
                                 f'{self.name_lists[0]!r}')
            names = [table[c] for c in classes]
        by_name: Dict[str, int] = {}
        for cat in self._coco_api.dataset['categories']:
            by_name.setdefault(str(cat['name']).strip(), cat['id'])
        present = [n in by_name for n in names]
        n = present.index(False) if False in present else len(names)
        if n == 0 or any(present[n:]):
            raise ValueError(
                'the labels whose class is a category of the annotation file must be 0..n-1; '
                f'file categories matched per label: {present}')
        return [by_name[name] for name in names[:n]]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if self.cat_ids is None:
            self.cat_ids = self.label_cat_ids()
        for _, pred in results:
            labels = np.asarray(pred['labels'])
            if labels.size and int(labels.max()) >= len(self.cat_ids):
                raise ValueError(f'image {pred["img_id"]}: predicted label {int(labels.max())} '
                                 f'has no category in the annotation file (labels 0..'
                                 f'{len(self.cat_ids) - 1} have one)')
        return super().compute_metrics(results)
