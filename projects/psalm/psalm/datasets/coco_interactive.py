"""COCO-Interactive: COCO instances, each prompted by a point, scribble, box or mask (paper 4.1)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_util
from mmengine.fileio import load
from mmengine.logging import print_log

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from psalm.structures import PROMPT_TYPES
from .interactive_prompts import PROMPT_KEYS


def sample_visual_prompts(candidates: List[Dict[str, dict]]) -> List[dict]:
    """One prompt per region, its type drawn uniformly among the region's candidates.

    Args:
        candidates: per region, ``{type: RLE}`` of its non-empty prompts.

    Returns:
        per region ``{'type': t, 'mask': RLE}``, the input of ``LoadVisualPrompts``.
    """
    # numpy's global generator: mmengine seeds it per dataloader worker.
    prompts = []
    for cands in candidates:
        types = [t for t in PROMPT_TYPES if t in cands]
        t = types[np.random.randint(len(types))] if len(types) > 1 else types[0]
        prompts.append({'type': t, 'mask': cands[t]})
    return prompts


@DATASETS.register_module()
class CocoInteractiveDataset(BaseDetDataset):
    """COCO-Interactive in the reference's json format (``coco_interactive_{train,val}_psalm.json``
    or one written by ``tools/dataset_converters/build_coco_interactive.py``).

    One sample per image; its regions are its non-crowd instances, each with one visual prompt,
    and the target of region k is instance k (``task='interactive'``). A data info holds
    ``img_path``, ``img_id`` (the COCO image id), ``new_img_id``, ``height``, ``width``, ``task``,
    ``instances`` (``mask``: the COCO segmentation, ``bbox``: xyxy, ``bbox_label`` 0,
    ``ignore_flag`` 0) and ``visual_prompt_candidates`` (per instance ``{type: RLE}`` of its
    non-empty prompts among the allowed types). Each time a sample is drawn,
    :meth:`prepare_data` picks one candidate per instance into ``visual_prompts``
    (``[{'type': t, 'mask': RLE}]``, instance order) for ``LoadVisualPrompts``, and their types
    into ``prompt_type`` (read by ``InteractiveSegMetric``).

    As the reference: crowd annotations are dropped; a region whose prompts of the allowed types
    are all empty is dropped with its target. Also dropped with their targets: instances without a
    polygon of >= 3 points (mmdet's ``LoadAnnotations`` would flag them ignored, and
    ``PackDetInputs`` would move them out of ``gt_instances``, breaking the region order).
    Samples left without regions are filtered in training and in evaluation, since a
    visual-prior sample needs at least one region (``filter_cfg`` is not used).

    Args:
        prompt_type: ``'random'`` (training, as the reference: per instance one non-empty type
            drawn at random each time), one of ``'point'``, ``'scribble'``, ``'box'``, ``'mask'``
            (evaluation, the reference's ``--region_mask_type``), or a sequence of types to draw
            from.
        **kwargs: :class:`~mmdet.datasets.BaseDetDataset` arguments (``data_root``, ``ann_file``,
            ``data_prefix=dict(img='train2017/')``, ``pipeline``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=('object',))

    def __init__(self, *args, prompt_type: Union[str, Sequence[str]] = 'random',
                 **kwargs) -> None:
        if prompt_type == 'random':
            types = PROMPT_TYPES
        elif isinstance(prompt_type, str):
            types = (prompt_type,)
        else:
            types = tuple(prompt_type)
        bad = [t for t in types if t not in PROMPT_TYPES]
        if bad or not types:
            raise ValueError(f"prompt_type must be 'random', one of {PROMPT_TYPES} or a sequence "
                             f'of them, got {prompt_type!r}')
        self.prompt_type = prompt_type
        self.prompt_types = tuple(t for t in PROMPT_TYPES if t in types)
        self._dropped = dict(crowd=0, no_polygon=0, no_prompt=0)  # counted while loading
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the json -> one data info per image entry.

        Raises:
            ValueError: naming the file, the entry and the field that is missing or malformed.
        """
        entries = load(self.ann_file, file_format='json', backend_args=self.backend_args)
        if not isinstance(entries, list):
            raise ValueError(f'{self.ann_file}: expected a list of per-image entries, got '
                             f'{type(entries).__name__}')
        self._dropped = dict(crowd=0, no_polygon=0, no_prompt=0)
        data_list = [self.parse_data_info(dict(raw_entry=e, index=i))
                     for i, e in enumerate(entries)]
        print_log(f'{self.ann_file}: {len(data_list)} images; instances dropped: '
                  f'{self._dropped} (prompt types {self.prompt_types})', logger='current')
        return data_list

    def _fail(self, index: int, entry, field: str, problem: str) -> None:
        image = entry.get('image') if isinstance(entry, dict) else None
        where = f'entry {index}' + (f' ({image})' if image else '')
        raise ValueError(f"{self.ann_file}: {where}: field '{field}' {problem}")

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """One json entry (``raw_entry``, with its ``index``) -> data info."""
        entry, index = raw_data_info['raw_entry'], raw_data_info['index']
        if not isinstance(entry, dict):
            self._fail(index, {}, '<entry>', 'is not an object')
        if not isinstance(entry.get('image'), str):
            self._fail(index, entry, 'image', 'is missing or not a string')
        info = entry.get('image_info')
        if not isinstance(info, dict):
            self._fail(index, entry, 'image_info', 'is missing or not an object')
        for key in ('height', 'width'):
            if not isinstance(info.get(key), int) or info[key] < 1:
                self._fail(index, entry, f'image_info.{key}', 'is missing or not a positive int')
        if not isinstance(entry.get('anns'), list):
            self._fail(index, entry, 'anns', 'is missing or not a list')
        height, width = info['height'], info['width']
        instances, candidates = [], []
        for j, ann in enumerate(entry['anns']):
            if not isinstance(ann, dict):
                self._fail(index, entry, f'anns[{j}]', 'is not an object')
            if ann.get('iscrowd', 0):
                self._dropped['crowd'] += 1
                continue
            seg = ann.get('segmentation')
            if not isinstance(seg, (list, dict)):
                self._fail(index, entry, f'anns[{j}].segmentation',
                           'is missing or neither polygons nor an RLE')
            bbox = ann.get('bbox')
            if not (isinstance(bbox, list) and len(bbox) == 4):
                self._fail(index, entry, f'anns[{j}].bbox', 'is missing or not [x, y, w, h]')
            if isinstance(seg, list) and not any(
                    isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in seg):
                self._dropped['no_polygon'] += 1
                continue
            cands = {}
            for t in self.prompt_types:
                rle = ann.get(PROMPT_KEYS[t])
                if not (isinstance(rle, dict) and isinstance(rle.get('counts'), (str, bytes))
                        and isinstance(rle.get('size'), list)):
                    self._fail(index, entry, f'anns[{j}].{PROMPT_KEYS[t]}',
                               'is missing or not a compressed RLE {counts, size}')
                if rle['size'] != [height, width]:
                    self._fail(index, entry, f'anns[{j}].{PROMPT_KEYS[t]}',
                               f"has size {rle['size']}, the image is {[height, width]}")
                cands[t] = rle
            # Empty prompts are dropped; `area` reads the RLE without decoding the mask.
            areas = mask_util.area(list(cands.values())) if cands else []
            cands = {t: rle for (t, rle), a in zip(cands.items(), areas) if a > 0}
            if not cands:
                self._dropped['no_prompt'] += 1
                continue
            x, y, w, h = bbox
            instances.append(dict(bbox=[x, y, x + w, y + h], bbox_label=0, ignore_flag=0,
                                  mask=seg))
            candidates.append(cands)
        return dict(
            img_path=osp.join(self.data_prefix.get('img', ''), entry['image']),
            img_id=info.get('id', entry.get('new_img_id', index)),
            new_img_id=entry.get('new_img_id', index),
            height=height, width=width, task='interactive',
            instances=instances, visual_prompt_candidates=candidates)

    def filter_data(self) -> List[dict]:
        """Drop samples without regions (both modes: the model cannot prompt them)."""
        kept = [d for d in self.data_list if d['instances']]
        if len(kept) < len(self.data_list):
            print_log(f'{self.ann_file}: {len(self.data_list) - len(kept)} images without a '
                      f'usable region skipped', logger='current')
        return kept

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Data info of ``idx`` with this draw's ``visual_prompts``, through the pipeline."""
        data_info = self.get_data_info(idx)
        prompts = sample_visual_prompts(data_info.pop('visual_prompt_candidates'))
        data_info['visual_prompts'] = prompts
        data_info['prompt_type'] = [p['type'] for p in prompts]  # per region, for the metric
        return self.pipeline(data_info)
