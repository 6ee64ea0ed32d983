"""mIoU / cIoU of interactive (visual-prompt) segmentation, per prompt type (COCO-Interactive)."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric

from mmdet.registry import METRICS
from psalm.structures import PROMPT_TYPES
from .utils import fmean, inter_union, iou, labels_or_range, ori_hw, pred_masks, ratio, \
    to_bool_masks

# PSALM's region_segmentation.py names the types after the annotation keys.
_REFERENCE_SUFFIX = '_visual_prompt_mask'


@METRICS.register_module()
class InteractiveSegMetric(BaseMetric):
    """mIoU and cIoU over regions, per prompt type (PSALM's COCO-Interactive protocol).

    Every region k of a sample (one ``<region>`` prompt) is scored against its own target:
    predicted mask k (``pred_instances.masks`` in region order; ``labels`` give the region index
    when present) vs ``gt_masks[k]``. With ``I = |P ∩ T|`` and ``U = |P ∪ T|`` per region:

    - ``mIoU = 100 · mean over regions of I / U`` (PSALM's code calls it gIoU), with
      ``empty_union_iou`` when ``U = 0`` (PSALM's rule: 1);
    - ``cIoU = 100 · ΣI / ΣU`` over regions.

    Both are reported per prompt type as ``<type>_mIoU`` / ``<type>_cIoU`` (only types that
    occur) and over all regions as ``mIoU`` / ``cIoU``; if ``ΣU = 0``, cIoU follows the
    empty-union rule too. A region without a prediction scores ``I = 0`` (its target still
    counts in ``U``). PSALM's COCO-Interactive numbers (paper Tab. 10, e.g. point 64.3 / 74.0)
    are these per-type mIoU / cIoU, one prompt type per run.

    Metainfo read: ``gt_masks`` (K, H, W) at ``ori_shape``, in region order, and the prompt
    type of the regions, from the first of: ``prompt_type`` (one name for all regions of the
    sample, as PSALM evaluates one type per run, or one name per region); ``visual_prompts``
    (``CocoInteractiveDataset``'s per-region ``{'type': t, ...}``); ``default_prompt_type``.
    Names are those of ``prompt_types``; PSALM's ``'<type>_visual_prompt_mask'`` is accepted.

    Args:
        prompt_types: accepted type names.
        default_prompt_type: type of samples without ``prompt_type`` or ``visual_prompts``
            (None: such a sample is an error).
        empty_union_iou: IoU of a region whose prediction and target are both empty.
        **kwargs: ``collect_device``, ``prefix``.
    """

    default_prefix: Optional[str] = 'interactive'

    def __init__(self, prompt_types: Sequence[str] = PROMPT_TYPES,
                 default_prompt_type: Optional[str] = None, empty_union_iou: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.prompt_types = tuple(prompt_types)
        if default_prompt_type is not None:
            default_prompt_type = self._check_type(default_prompt_type)
        self.default_prompt_type = default_prompt_type
        self.empty_union_iou = float(empty_union_iou)

    def _check_type(self, name: str) -> str:
        name = str(name)
        if name.endswith(_REFERENCE_SUFFIX):
            name = name[:-len(_REFERENCE_SUFFIX)]
        if name not in self.prompt_types:
            raise ValueError(f'unknown prompt type {name!r}; expected one of {self.prompt_types}')
        return name

    def _region_types(self, data_sample: dict, k: int) -> List[str]:
        prompt_type: Union[None, str, Sequence[str]] = data_sample.get('prompt_type')
        if prompt_type is None and data_sample.get('visual_prompts') is not None:
            prompt_type = [p['type'] for p in data_sample['visual_prompts']]
        if prompt_type is None:
            if self.default_prompt_type is None:
                raise KeyError('the sample has neither "prompt_type" nor "visual_prompts" '
                               'metainfo and the metric has no default_prompt_type')
            prompt_type = self.default_prompt_type
        if isinstance(prompt_type, str):
            return [self._check_type(prompt_type)] * k
        types = [self._check_type(t) for t in prompt_type]
        if len(types) != k:
            raise ValueError(f'{len(types)} prompt types for {k} regions')
        return types

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store ``(type, I, U)`` of every region of each sample (one record per sample)."""
        for data_sample in data_samples:
            pred = pred_masks(data_sample, ori_hw(data_sample))
            gt = to_bool_masks(data_sample['gt_masks'], pred.shape[1:])
            types = self._region_types(data_sample, len(gt))
            by_region = {}
            for mask, region in zip(pred, labels_or_range(data_sample['pred_instances'],
                                                          len(pred))):
                if not 0 <= region < len(gt) or region in by_region:
                    raise ValueError(f'prediction for region {region}: expected one mask per '
                                     f'region 0..{len(gt) - 1}')
                by_region[region] = mask
            record = []
            for k, target in enumerate(gt):
                if k in by_region:
                    inter, union = inter_union(by_region[k], target)
                else:
                    inter, union = 0, int(target.sum())
                record.append((types[k], inter, union))
            self.results.append(record)

    def _scores(self, pairs: List[tuple], key: str) -> Dict[str, float]:
        """``{key}mIoU`` and ``{key}cIoU`` of a list of region ``(I, U)``."""
        return {
            f'{key}mIoU': 100 * fmean(iou(i, u, self.empty_union_iou) for i, u in pairs),
            f'{key}cIoU': 100 * ratio(sum(i for i, _ in pairs), sum(u for _, u in pairs),
                                      self.empty_union_iou),
        }

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        regions = [region for sample in results for region in sample]
        groups: Dict[str, list] = defaultdict(list)
        for ptype, inter, union in regions:
            groups[ptype].append((inter, union))
        metrics = {}
        # Fixed type order in the output, whatever order the samples came in.
        for name in self.prompt_types:
            if name in groups:
                metrics.update(self._scores(groups[name], f'{name}_'))
        metrics.update(self._scores([(i, u) for _, i, u in regions], ''))
        return metrics
