"""Drawing PSALM's results: mmdet's masks and labels, plus the prompts and the text answers."""
import textwrap
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.structures import InstanceData

from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import bitmap_to_polygon
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import get_palette
from .palette import region_palette

CATEGORY_TASKS = ('panoptic', 'instance', 'semantic')
SENTENCE_TASKS = ('referring', 'gres')
REGION_TASKS = ('interactive', 'vos')


@VISUALIZERS.register_module()
class PSALMLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that draws what PSALM was asked and what it answered.

    Per task (``task`` metainfo), only the task's own output is drawn: ``pred_panoptic_seg``
    (panoptic), ``pred_instances`` above ``pred_score_thr`` (instance), ``pred_sem_seg``
    (semantic), the referring mask (referring, gres: "no target" when the model says so), one mask
    per region (interactive, vos). Category names come from the sample's ``categories``, so an
    open-vocabulary list is labelled as given. On top: the visual prompts (``visual_prompts``
    metainfo, original pixels: points as disks, scribbles as strokes, boxes as dashed rectangles,
    mask prompts as dashed outlines, each in its region's colour) and a caption band below the
    image with the sentence, the question and the text answer (``pred_text``).

    Args:
        name: the instance name (mmengine's ``ManagerMixin``).
        region_names: label regions as ``<prefix> k`` (``object <id>`` for video, where the
            sample's ``object_ids`` name them).
        alpha: opacity of masks and boxes.
        **kwargs: :class:`~mmdet.visualization.DetLocalVisualizer` arguments.
    """

    def __init__(self, name: str = 'visualizer', region_names: str = 'region',
                 alpha: float = 0.5, **kwargs) -> None:
        # alpha 0.5 (mmdet: 0.8): the image stays visible under a mask that covers most of it.
        super().__init__(name=name, alpha=alpha, **kwargs)
        self.region_names = region_names

    # ------------------------------------------------------------------ helpers
    def _classes_and_palette(self, sample: DetDataSample) -> Tuple[List[str], list]:
        meta, task = sample.metainfo, sample.metainfo.get('task')
        if task in CATEGORY_TASKS:
            classes = list(meta['categories'])
            palette = self.dataset_meta.get('palette')
            same = list(self.dataset_meta.get('classes') or []) == classes
            if not (same and isinstance(palette, list) and len(palette) >= len(classes)):
                palette = get_palette('random', len(classes))
            return classes, palette
        if task in SENTENCE_TASKS:
            return [textwrap.shorten(meta['text'], 40, placeholder='...')], region_palette(1)
        ids = meta.get('object_ids')
        # Regions: the user's prompts (inferencer), else the rasterised ones (dataset samples).
        num = len(meta.get('visual_prompts') or meta.get('region_masks', ()))
        if 'pred_instances' in sample and len(sample.pred_instances.get('labels', ())):
            num = max(num, int(sample.pred_instances.labels.max()) + 1)
        if task not in REGION_TASKS:  # text answers: no mask to colour
            return [], region_palette(1)
        names = ([f'object {i}' for i in ids] if ids is not None else
                 [f'{self.region_names} {k}' for k in range(num)])
        if ids:  # video: the colour of each object id in the indexed PNGs
            full = region_palette(max(ids))
            return names, [full[i - 1] for i in ids]
        return names, region_palette(num)

    @staticmethod
    def _nonempty(instances: InstanceData) -> InstanceData:
        """Instances with at least one mask pixel (mmdet's label placement needs one)."""
        if 'masks' not in instances or len(instances) == 0:
            return instances
        masks = instances.masks
        masks = masks if isinstance(masks, torch.Tensor) else torch.as_tensor(np.asarray(masks))
        return instances[masks.flatten(1).any(1)]

    def _draw_prediction(self, image: np.ndarray, sample: DetDataSample, classes: List[str],
                         palette: list, pred_score_thr: float) -> np.ndarray:
        task = sample.metainfo.get('task')
        if task == 'panoptic' and 'pred_panoptic_seg' in sample:
            pan = sample.pred_panoptic_seg.numpy()
            if (pan.sem_seg != len(classes)).any():  # mmdet cannot draw an all-void map
                return self._draw_panoptic_seg(image, pan, classes, palette)
            return image
        if task == 'semantic' and 'pred_sem_seg' in sample:
            return self._draw_sem_seg(image, sample.pred_sem_seg, classes, palette)
        if 'pred_instances' not in sample:
            return image
        instances = sample.pred_instances
        if task == 'instance':
            instances = instances[instances.scores > pred_score_thr]
        elif task == 'gres' and bool(instances.get('no_target', torch.zeros(1))[0]):
            return image  # the caption says "no target"
        else:
            # Referring and region outputs are the answer itself: drawn whatever the score, and
            # labelled at the mask (no box) so several regions stay readable.
            instances = InstanceData(masks=instances.masks, labels=instances.labels,
                                     scores=instances.scores)
        return self._draw_instances(image, self._nonempty(instances), classes, palette)

    def _draw_prompts(self, sample: DetDataSample, colors: Sequence[tuple]) -> None:
        """Draw the visual prompts on the current image (original pixel coordinates)."""
        prompts = sample.metainfo.get('visual_prompts') or []
        size = min(self.width, self.height)
        width = max(1.5, size / 250)
        for k, prompt in enumerate(prompts):
            kind, data, color = prompt['type'], prompt.get('data'), colors[k % len(colors)]
            if kind == 'point':
                pts = np.asarray(data, np.float64).reshape(-1, 2)
                self.draw_circles(pts, np.full(len(pts), max(4.0, size / 60)), edge_colors='w',
                                  face_colors=[color] * len(pts), line_widths=width, alpha=1.0)
                anchor = pts[0]
            elif kind == 'scribble':
                for line in data:
                    pts = np.asarray(line, np.float64).reshape(-1, 2)
                    if len(pts) == 1:
                        pts = np.concatenate([pts, pts])
                    seg_x = np.stack([pts[:-1, 0], pts[1:, 0]], 1)
                    seg_y = np.stack([pts[:-1, 1], pts[1:, 1]], 1)
                    self.draw_lines(seg_x, seg_y, colors='w', line_widths=3 * width)
                    self.draw_lines(seg_x, seg_y, colors=[color] * len(seg_x),
                                    line_widths=1.8 * width)
                anchor = np.asarray(data[0], np.float64).reshape(-1, 2)[0]
            elif kind == 'box':
                box = np.asarray(data, np.float64).reshape(1, 4)
                self.draw_bboxes(box, edge_colors=[color], line_styles='--',
                                 line_widths=1.5 * width, alpha=1.0)
                anchor = box[0, :2]
            else:  # mask prompt: its outline
                mask = np.asarray(data).astype(bool) if data is not None else None
                if mask is None or mask.shape != (self.height, self.width) or not mask.any():
                    continue
                contours, _ = bitmap_to_polygon(mask)
                self.draw_polygons(contours, edge_colors=[color] * len(contours),
                                   line_styles='--', line_widths=1.5 * width, alpha=1.0)
                ys, xs = np.nonzero(mask)
                anchor = np.array([xs.min(), ys.min()], np.float64)
            self.draw_texts(f'{kind} {k}', anchor + 2 * width, colors='w',
                            font_sizes=max(8, int(size / 45)), vertical_alignments='bottom',
                            bboxes=[dict(facecolor=tuple(c / 255 for c in color), alpha=0.9,
                                         pad=0.3, edgecolor='none')])

    def _caption(self, sample: DetDataSample) -> List[str]:
        meta, task = sample.metainfo, sample.metainfo.get('task')
        lines = []
        if task in SENTENCE_TASKS:
            lines.append(f'{"GRES" if task == "gres" else "Referring"}: "{meta["text"]}"')
            if task == 'gres' and 'pred_instances' in sample and bool(
                    sample.pred_instances.get('no_target', torch.zeros(1))[0]):
                lines.append('-> no target')
        if meta.get('conversation'):
            question = str(meta['conversation'][-1]['value']).replace('<image>', '').strip()
            lines.append(f'Q: {question}')
        if 'pred_text' in sample:
            lines.append(f'A: {str(sample.pred_text).strip()}')
        return lines

    def _add_caption(self, image: np.ndarray, lines: List[str]) -> np.ndarray:
        """Append a band below ``image`` with ``lines`` (wrapped to the image width)."""
        font = max(9, int(min(image.shape[:2]) / 32))
        chars = max(10, int(image.shape[1] / (0.8 * font)))  # ~0.7 font px per character
        wrapped = [w for line in lines for w in (textwrap.wrap(line, chars) or [''])]
        line_h = int(font * 1.6)
        band = np.full((line_h * len(wrapped) + font, image.shape[1], 3), 24, np.uint8)
        self.set_image(np.concatenate([image, band], 0))
        positions = np.array([[font * 0.5, image.shape[0] + font * 0.5 + i * line_h]
                              for i in range(len(wrapped))])
        self.draw_texts(wrapped, positions, colors='w', font_sizes=font,
                        vertical_alignments='top')
        return self.get_image()

    # ------------------------------------------------------------------ entry
    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = False,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0,
                       draw_prompts: bool = True) -> None:
        """Draw ``data_sample``'s prediction and prompts on ``image`` (RGB, original size).

        Without a PSALM ``task`` in the metainfo (e.g. ground truth of mmdet datasets in
        :class:`~mmdet.engine.DetVisualizationHook`), falls back to mmdet's drawing.
        """
        if data_sample is None or 'task' not in data_sample.metainfo:
            return super().add_datasample(name, image, data_sample, draw_gt, draw_pred, show,
                                          wait_time, out_file, pred_score_thr, step)
        image = image.clip(0, 255).astype(np.uint8)
        sample = data_sample.cpu()
        classes, palette = self._classes_and_palette(sample)
        drawn = image
        if draw_pred:
            drawn = self._draw_prediction(image, sample, classes, palette, pred_score_thr)
        if draw_prompts and sample.metainfo.get('visual_prompts'):
            self.set_image(drawn)
            self._draw_prompts(sample, palette)
            drawn = self.get_image()
        caption = self._caption(sample) if draw_prompts or draw_pred else []
        if caption:
            drawn = self._add_caption(drawn, caption)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)

