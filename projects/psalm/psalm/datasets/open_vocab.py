"""Open-vocabulary (out-of-domain) evaluation sets: mmdet's datasets plus the category condition.

Each class is a thin subclass of the mmdet dataset that reads the public format; it only adds
``task``, ``categories`` (the class names in label order, from ``psalm/data/class_names``) and
``is_thing`` to every data info (see ``psalm.models.condition_prompt``).

Datasets (mmdet base -> expected files):

- ``PSALMADE20KPanopticDataset`` (``ADE20KPanopticDataset`` classes, parsed as
  :class:`PSALMCocoPanopticDataset`): ``ade20k_panoptic_val.json`` + PNGs from mmdet's
  ``ade20k2coco.py --task panoptic``.
- ``PSALMADE20KInstanceDataset`` (``ADE20KInstanceDataset``): ``ade20k_instance_val.json``
  (``ade20k2coco.py --task instance``).
- ``PSALMADE20KSegDataset`` (``ADE20KSegDataset``): raw ``annotations/validation/*.png``, loaded
  with ``reduce_zero_label=True``.
- ``PSALMCityscapesSegDataset`` (``BaseSegDataset``): ``*_gtFine_labelTrainIds.png``.
- ``PSALMCityscapesInstanceDataset`` (``CityscapesDataset``): mmdet's ``cityscapes.py`` json.
- ``PSALMPascalContext59Dataset`` / ``PSALMPascalContext459Dataset`` (``BaseSegDataset``):
  fc-clip's ``annotations_ctx59`` PNGs / ``annotations_ctx459`` 16-bit TIFFs.
- ``PSALMPascalVOC20Dataset`` (``BaseSegDataset``): VOC2012 ``SegmentationClass`` PNGs.

``categories`` follow the reference (``psalm/eval/semantic_segmentation.py``): with
``category_names='synonyms'`` each class is fc-clip's prompt-engineered string
(``'wall,walls,...'``) and, when there are more than ``max_synonym_classes`` (200) classes, only
its first synonym; ``category_names='plain'`` gives the plain names.
``tools/dataset_converters/prepare_open_vocab.py`` checks a data directory and says how to obtain
what is missing.
"""
from functools import lru_cache
from typing import List, Optional, Tuple

from mmdet.datasets import (ADE20KInstanceDataset, ADE20KPanopticDataset, ADE20KSegDataset,
                            BaseSegDataset, CityscapesDataset)
from mmdet.registry import DATASETS
from .class_names import load_class_names
from .coco_panoptic import PSALMCocoPanopticDataset

CATEGORY_NAMES = ('plain', 'synonyms')


class OpenVocabMixin:
    """Adds ``task``, ``categories`` and ``is_thing`` to each data info of an mmdet dataset.

    Subclasses set ``CLASS_LIST`` (the shipped list whose line ``i`` names class ``i``) and, when
    the annotation file names its categories differently, ``LABEL_NAME_LIST`` (the list those
    names are looked up in, same order). Labels follow the dataset's own order: ``cat_ids`` for
    COCO-style files, ``metainfo['classes']`` otherwise.

    Args:
        task: written into each sample; one of the class's ``TASKS`` (default: the first).
        category_names: ``'synonyms'`` (fc-clip prompt engineering, as the reference) or
            ``'plain'``. Default: ``DEFAULT_CATEGORY_NAMES``.
        max_synonym_classes: above this many classes only the first synonym of each is used
            (200 in the reference); None never shortens.
    """
    CLASS_LIST: str = ''
    LABEL_NAME_LIST: Optional[str] = None
    TASKS: Tuple[str, ...] = ('semantic', )
    DEFAULT_CATEGORY_NAMES = 'synonyms'
    # PSALMCocoPanopticDataset takes `task` too; it must get the same value.
    FORWARD_TASK = False

    def __init__(self, *args, task: Optional[str] = None, category_names: Optional[str] = None,
                 max_synonym_classes: Optional[int] = 200, **kwargs) -> None:
        self.task = task or self.TASKS[0]
        if self.task not in self.TASKS:
            raise ValueError(f'{type(self).__name__}: task must be one of {self.TASKS}, '
                             f'got {self.task!r}')
        self.category_names = category_names or self.DEFAULT_CATEGORY_NAMES
        if self.category_names not in CATEGORY_NAMES:
            raise ValueError(f'category_names must be one of {CATEGORY_NAMES}, '
                             f'got {self.category_names!r}')
        self.max_synonym_classes = max_synonym_classes
        self._json_label_names: Optional[List[str]] = None
        if self.FORWARD_TASK:
            kwargs['task'] = self.task
        super().__init__(*args, **kwargs)

    @classmethod
    def thing_flags(cls) -> List[bool]:
        """Whether each class of ``CLASS_LIST`` is a thing. Default: none is."""
        return [False] * len(load_class_names(cls.CLASS_LIST))

    def parse_data_info(self, raw_data_info: dict) -> dict:
        # COCO-style: label i is category cat_ids[i] of the json. mmdet deletes its COCO api at
        # the end of load_data_list, so read the names while parsing.
        coco = getattr(self, 'coco', None)
        if coco is not None and self._json_label_names is None:
            self._json_label_names = [coco.cats[cat_id]['name'] for cat_id in self.cat_ids]
        return super().parse_data_info(raw_data_info)

    def label_names(self) -> List[str]:
        """The annotation file's name of each label, in label order."""
        if self._json_label_names is not None:
            return list(self._json_label_names)
        return list(self.metainfo['classes'])

    def category_condition(self) -> Tuple[List[str], List[bool]]:
        """(categories, is_thing) of every label, in label order."""
        lookup_list = self.LABEL_NAME_LIST or self.CLASS_LIST
        # mmdet's ADE20K semantic list spells 'bed ' with a trailing space.
        lookup = {name.strip(): i for i, name in enumerate(load_class_names(lookup_list))}
        names = self.label_names()
        unknown = [name for name in names if name.strip() not in lookup]
        if unknown:
            raise ValueError(f'{type(self).__name__}: categories {unknown} of the annotations '
                             f'are not in the shipped class list {lookup_list!r}')
        indices = [lookup[name.strip()] for name in names]
        synonyms = self.category_names == 'synonyms'
        table = load_class_names(self.CLASS_LIST, synonyms=synonyms)
        categories = [table[i] for i in indices]
        if synonyms and self.max_synonym_classes is not None \
                and len(categories) > self.max_synonym_classes:
            categories = [name.split(',')[0] for name in categories]
        things = self.thing_flags()
        return categories, [things[i] for i in indices]

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        categories, is_thing = self.category_condition()
        for data_info in data_list:
            # Copies: the model may reorder a sample's categories in place.
            data_info.update(task=self.task, categories=list(categories),
                             is_thing=list(is_thing))
        return data_list


@lru_cache(maxsize=None)
def _names_in(names: Tuple[str, ...], class_list: str) -> Tuple[bool, ...]:
    wanted = set(names)
    return tuple(name in wanted for name in load_class_names(class_list))


class _ADE20KMixin(OpenVocabMixin):
    CLASS_LIST = 'ade20k_150'

    @classmethod
    def thing_flags(cls) -> List[bool]:
        # ADE20K's thing/stuff split is the panoptic one (100 things, 50 stuff).
        return list(_names_in(tuple(ADE20KPanopticDataset.METAINFO['thing_classes']),
                              'ade20k_150_panoptic'))


class _CityscapesMixin(OpenVocabMixin):
    CLASS_LIST = 'cityscapes_19'
    DEFAULT_CATEGORY_NAMES = 'plain'  # no synonym list is shipped (see the class_names README)

    @classmethod
    def thing_flags(cls) -> List[bool]:
        # The 8 classes with instances (mmdet's CityscapesDataset classes).
        return list(_names_in(tuple(CityscapesDataset.METAINFO['classes']), 'cityscapes_19'))


@DATASETS.register_module()
class PSALMADE20KPanopticDataset(_ADE20KMixin, PSALMCocoPanopticDataset):
    """ADE20K-150 panoptic (mmdet's ``ade20k2coco.py --task panoptic`` output): every segment is
    a target, as :class:`PSALMCocoPanopticDataset`. Tasks: panoptic (default), instance, semantic.

    mmdet's converter writes wrong boxes for thing segments (their x and width come from the
    previously written segment, so the width is often 0) and mmdet's parser drops segments with an
    empty box. Here a segment is kept whenever its area is positive; its mask comes from the PNG.
    Thing boxes from that converter stay unreliable: do not load boxes for evaluation.
    """
    METAINFO = ADE20KPanopticDataset.METAINFO
    LABEL_NAME_LIST = 'ade20k_150_panoptic'
    TASKS = ('panoptic', 'instance', 'semantic')
    FORWARD_TASK = True

    def parse_data_info(self, raw_data_info: dict) -> dict:
        anns = []
        for ann in raw_data_info['raw_ann_info']:
            x, y, w, h = ann['bbox']
            anns.append(dict(ann, bbox=[x, y, max(w, 1), max(h, 1)]) if ann['area'] > 0 else ann)
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))


@DATASETS.register_module()
class PSALMADE20KInstanceDataset(_ADE20KMixin, ADE20KInstanceDataset):
    """ADE20K-150 instance segmentation, 100 thing classes (mmdet's ``ade20k2coco.py --task
    instance`` output, COCO format)."""
    TASKS = ('instance', )


@DATASETS.register_module()
class PSALMADE20KSegDataset(_ADE20KMixin, ADE20KSegDataset):
    """ADE20K-150 semantic segmentation (ADEChallengeData2016 ``annotations/``; load them with
    ``reduce_zero_label=True``: 0 'other' becomes 255 and ids shift to 0..149, which is what the
    reference's ``annotations_detectron2`` holds)."""
    TASKS = ('semantic', )


@DATASETS.register_module()
class PSALMCityscapesSegDataset(_CityscapesMixin, BaseSegDataset):
    """Cityscapes semantic segmentation, 19 trainId classes, 255 ignored
    (``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` from cityscapesscripts'
    ``createTrainIdLabelImgs``). The reference does not evaluate Cityscapes."""
    METAINFO = dict(classes=tuple(load_class_names('cityscapes_19')))
    TASKS = ('semantic', )

    def __init__(self, *args, img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png', **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class PSALMCityscapesInstanceDataset(_CityscapesMixin, CityscapesDataset):
    """Cityscapes instance segmentation, 8 thing classes (mmdet's
    ``tools/dataset_converters/cityscapes.py`` json); the paper's OV instance column (Tab. 11)."""
    TASKS = ('instance', )


@DATASETS.register_module()
class PSALMPascalContext59Dataset(OpenVocabMixin, BaseSegDataset):
    """Pascal Context 59 (fc-clip's ``pascal_ctx_d2/annotations_ctx59``: PNG, ids 0..58, 255
    ignored). Pascal Context defines no thing/stuff split: ``is_thing`` is all False."""
    METAINFO = dict(classes=tuple(load_class_names('pascal_context_59')))
    CLASS_LIST = 'pascal_context_59'
    TASKS = ('semantic', )

    def __init__(self, *args, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class PSALMPascalContext459Dataset(OpenVocabMixin, BaseSegDataset):
    """Pascal Context 459 (fc-clip's ``pascal_ctx_d2/annotations_ctx459``, written by its
    ``prepare_pascal_ctx_full_sem_seg.py`` or ours,
    ``tools/dataset_converters/pascal_context_459.py``).

    The maps are 16-bit TIFFs: ids 0..458, **65535 ignored** (255 is a class here). Load them with
    ``LoadAnnotations(with_seg=True, ignore_index=65535)``: ``gt_sem_seg`` is then a uint16
    tensor whose metainfo carries ``ignore_index=65535``; an evaluator must use that index (mmdet's
    ``SemSegMetric`` reads it from ``pred_sem_seg``'s metainfo and casts the GT to the prediction's
    dtype). With more than 200 classes the reference keeps only each class's first synonym.
    """
    METAINFO = dict(classes=tuple(load_class_names('pascal_context_459')))
    CLASS_LIST = 'pascal_context_459'
    TASKS = ('semantic', )

    def __init__(self, *args, img_suffix: str = '.jpg', seg_map_suffix: str = '.tif',
                 **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class PSALMPascalVOC20Dataset(OpenVocabMixin, BaseSegDataset):
    """Pascal VOC 2012 semantic segmentation without background (20 classes).

    Reads the official ``SegmentationClass`` PNGs (palette indices: 0 background, 1..20 classes,
    255 boundary) with ``LoadAnnotations(with_seg=True, reduce_zero_label=True,
    imdecode_backend='pillow')``: background and boundary become 255 and classes 0..19, exactly
    fc-clip's ``annotations_pascal20`` (which, if already made, loads with
    ``reduce_zero_label=False``). ``pillow`` is needed because OpenCV expands palette PNGs to
    colours. All 20 classes are things.
    """
    METAINFO = dict(classes=tuple(load_class_names('pascal_voc_20')))
    CLASS_LIST = 'pascal_voc_20'
    TASKS = ('semantic', )

    def __init__(self, *args, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @classmethod
    def thing_flags(cls) -> List[bool]:
        return [True] * len(load_class_names(cls.CLASS_LIST))

