"""MMDetection's visualization hook, for test sets with several samples per image."""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
from mmengine.fileio import get
from mmengine.utils import mkdir_or_exist

from mmdet.engine.hooks import DetVisualizationHook
from mmdet.registry import HOOKS
from mmdet.structures import DetDataSample


@HOOKS.register_module()
class PSALMVisualizationHook(DetVisualizationHook):
    """``DetVisualizationHook`` that can stop after a few test samples and never overwrites.

    Referring, gRES and interactive test sets hold several samples (sentences, prompts) per
    image; mmdet's hook names each picture after its image, so a later sample overwrote the
    earlier ones. Here the first picture of an image keeps that name (``val_000003.jpg``) and
    later ones get a counter (``val_000003_1.jpg``, ...).

    Args:
        max_test_images (int, optional): paint only the first this many test samples (of
            each rank), so one evaluation pass can leave a few pictures behind at no cost.
            ``None`` paints all of them, as mmdet does.
        **kwargs: :class:`~mmdet.engine.hooks.DetVisualizationHook` arguments.
    """

    def __init__(self, max_test_images: Optional[int] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if max_test_images is not None and max_test_images < 0:
            raise ValueError(f'max_test_images must be >= 0 or None, got {max_test_images}')
        self.max_test_images = max_test_images
        self._painted: Dict[str, int] = {}  # image name -> pictures of it so far

    def _picture_path(self, out_dir: Optional[str], img_path: str) -> Optional[str]:
        name = osp.basename(img_path)
        count = self._painted.get(name, 0)
        self._painted[name] = count + 1
        if out_dir is None:
            return None
        if count:
            stem, ext = osp.splitext(name)
            name = f'{stem}_{count}{ext}'
        return osp.join(out_dir, name)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        if self.draw is False:
            return
        out_dir = None
        if self.test_out_dir is not None:  # relative to the run's log folder, as in mmdet
            out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(out_dir)
        for sample in outputs:
            if self.max_test_images is not None and self._test_index >= self.max_test_images:
                return
            self._test_index += 1
            img = mmcv.imfrombytes(get(sample.img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            self._visualizer.add_datasample(
                osp.basename(sample.img_path) if self.show else 'test_img',
                img,
                data_sample=sample,
                show=self.show,
                wait_time=self.wait_time,
                pred_score_thr=self.score_thr,
                out_file=self._picture_path(out_dir, sample.img_path),
                step=self._test_index)
