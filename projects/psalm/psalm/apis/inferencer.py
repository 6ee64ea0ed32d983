"""PSALM inference in the style of mmdet's ``DetInferencer``: config + checkpoint in, images and
prompts in, ``DetDataSample``s / JSON-able dicts and pictures out, for every task of the model.

Each image and its prompt become the data info a dataset would produce (:mod:`.prompts`), the
config's test pipeline (annotation loaders dropped, ``LoadVisualPrompts`` added) packs it, and
``model.test_step`` runs ``predict()`` exactly as in evaluation. Every input is read and checked
before the first forward pass, so bad input fails before anything is written; each output file
is written to a temporary name and renamed.
"""
import copy
import json
import os
import os.path as osp
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import cv2
import mmcv
import numpy as np
import pycocotools.mask as mask_util
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.fileio import isdir, join_path, list_dir_or_file
from mmengine.registry import FUNCTIONS
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmengine.structures import InstanceData
from rich.progress import track

from mmdet.apis import DetInferencer
from mmdet.apis.det_inferencer import IMG_EXTENSIONS
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import mask2bbox
from psalm.engine.vos_memory import VOSMemory
from psalm.utils.atomic_io import write_bytes_atomic
from psalm.visualization.palette import encode_indexed_png
from .prompts import (TASK_CONDITIONS, TASKS, USER_TASKS, build_data_info, read_image)
from .video import list_frames, masks_to_index_map, read_object_masks

InputType = Union[str, np.ndarray, dict]
# Transforms that read ground truth: no ground truth at inference.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticSegments', 'LoadPanopticAnnotations',
                      'LoadDAVISAnnotations')
IMAGE_LOADERS = ('LoadImageFromFile', 'LoadOptionalImage', 'InferencerLoader')
PACKERS = ('PackPSALMInputs', 'PackDetInputs')
# What the drawings and the JSON read besides the model's own metainfo.
INFER_META_KEYS = ('visual_prompts', 'out_name', 'object_ids')


def _type_name(transform: dict) -> str:
    name = transform['type']
    return (name if isinstance(name, str) else name.__name__).split('.')[-1]


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> COCO RLE with a str ``counts`` (JSON-able; ``size`` is [H, W])."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))


def encode_image(image_rgb: np.ndarray, suffix: str = '.jpg', quality: int = 90) -> bytes:
    """RGB array -> encoded image bytes (JPEG by default)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if suffix in ('.jpg', '.jpeg') else []
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(image_rgb[..., ::-1]), params)
    if not ok:
        raise RuntimeError(f'OpenCV could not encode a {suffix} image')
    return buf.tobytes()


class PSALMInferencer(DetInferencer):
    """Segment images with PSALM from text, category lists and visual prompts; answer questions.

    Tasks (``task=``) and the prompt each needs:

    =============== ==========================================================================
    ``panoptic``    ``categories`` (any names: open vocabulary) and ``is_thing`` (default: all
                    things); default categories: the config's test dataset classes
    ``instance``    ``categories``
    ``semantic``    ``categories``
    ``referring``   ``text``: the sentence; one mask
    ``gres``        ``text``: one fused mask (several targets) and ``no_target``
    ``interactive`` ``visual_prompts``: one dict per region, ``{'type': 'point' | 'scribble' |
                    'box' | 'mask', 'data': ...}`` in original pixels (see
                    :func:`psalm.apis.prompts.normalize_visual_prompt`); one mask per region
    ``vqa``         ``question``: a text answer
    =============== ==========================================================================

    Video object segmentation: :meth:`track_video`.

    Args:
        model: config path, ``Config`` or dict.
        weights: checkpoint path; None takes the config's ``load_from`` and, when that is unset
            too, keeps random weights (with a warning).
        device: e.g. ``'cpu'``, ``'cuda:0'``; None picks one.
        scope: registry scope.
        palette: colours of the config's categories (mmdet's names: ``'coco'``, ``'random'``...).
        show_progress: a progress bar over the batches.
        cfg_options: overrides merged into the config (as ``--cfg-options``).
    """

    def __init__(self,
                 model: Union[str, Config, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmdet',
                 palette: str = 'none',
                 show_progress: bool = False,
                 cfg_options: Optional[dict] = None) -> None:
        if isinstance(model, str):
            if not osp.isfile(model):
                raise FileNotFoundError(f'config file {model!r} not found')
            cfg = Config.fromfile(model)
        elif isinstance(model, (Config, ConfigDict, dict)):
            cfg = model if isinstance(model, Config) else Config(dict(model))
            cfg = copy.deepcopy(cfg)
        else:
            raise TypeError(f'model must be a config path, a Config or a dict, got '
                            f'{type(model).__name__}')
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if 'model' not in cfg:
            raise ValueError(f'{self._where(cfg)} has no `model` field')
        if weights is None and cfg.get('load_from'):
            weights = cfg.load_from
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'checkpoint {weights!r} not found')
        self.weights = weights
        super().__init__(model=cfg, weights=weights, device=device, scope=scope, palette=palette,
                         show_progress=show_progress)
        self.cfg = cfg

    # ---------------------------------------------------------------- set-up
    @staticmethod
    def _where(cfg: Config) -> str:
        return getattr(cfg, 'filename', None) or 'the config'

    def _load_weights_to_model(self, model: torch.nn.Module, checkpoint: Optional[dict],
                               cfg: Config) -> None:
        """Load the weights; default categories (``dataset_meta``) from the checkpoint's meta
        or the config's test dataset."""
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
        else:
            warnings.warn('no checkpoint: PSALM runs with random weights, whose outputs show the '
                          'drawing, not the model')
        meta = dict(((checkpoint or {}).get('meta') or {}).get('dataset_meta') or {})
        if not meta:
            meta = self._test_dataset_metainfo(cfg)
        meta = {k.lower(): v for k, v in meta.items()}
        if self.palette != 'none':
            meta['palette'] = self.palette
        model.dataset_meta = meta

    @staticmethod
    def _test_dataset_metainfo(cfg: Config) -> dict:
        dataset = cfg.get('test_dataloader', {}).get('dataset')
        if not dataset:
            return {}
        try:  # lazy_init: only the class's METAINFO, no annotation file is read
            return dict(DATASETS.build(dict(copy.deepcopy(dataset), lazy_init=True)).metainfo)
        except Exception as err:  # a default class list is a convenience, not a requirement
            warnings.warn(f'no default categories: building test_dataloader.dataset failed '
                          f'({err})')
            return {}

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The config's test pipeline without annotation loaders, with ``LoadVisualPrompts``
        after the geometric transforms and ``PackPSALMInputs`` keeping the prompt metainfo."""
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        pipeline = copy.deepcopy(dataset.get('pipeline') if dataset else None)
        if not pipeline:
            canvas = cfg.model.get('data_preprocessor', {}).get('canvas_size', (1024, 1024))
            pipeline = [dict(type='LoadImageFromFile'),
                        dict(type='Resize', scale=tuple(canvas), keep_ratio=True)]
        transforms, prompts = [], dict(type='LoadVisualPrompts')
        has_loader = False
        for transform in pipeline:
            name = _type_name(transform)
            if name in IMAGE_LOADERS:
                kwargs = {k: v for k, v in transform.items()
                          if k in ('to_float32', 'color_type', 'imdecode_backend', 'backend_args')}
                transforms.append(dict(type='mmdet.InferencerLoader', **kwargs))
                has_loader = True
            elif name == 'LoadVisualPrompts':
                prompts = transform  # keeps the config's radii
            elif name not in ANNOTATION_LOADERS + PACKERS:
                transforms.append(transform)
        if not has_loader:
            raise ValueError(f'{self._where(cfg)}: test_dataloader.dataset.pipeline has no image '
                             f'loader (one of {IMAGE_LOADERS})')
        transforms += [prompts, dict(type='PackPSALMInputs', meta_keys=INFER_META_KEYS)]
        return Compose(transforms)

    def _init_collate(self, cfg: Config):
        """``test_dataloader.collate_fn`` when the config sets one, else ``pseudo_collate``."""
        collate = cfg.get('test_dataloader', {}).get('collate_fn')
        if not collate:
            return pseudo_collate
        return FUNCTIONS.get(collate['type']) if isinstance(collate, dict) else collate

    def _init_visualizer(self, cfg: Config):
        """The config's visualizer as a :class:`PSALMLocalVisualizer` (mmdet's drawing options
        kept), without storage backends: files are written by the inferencer."""
        vis_cfg = copy.deepcopy(cfg.get('visualizer') or dict(type='DetLocalVisualizer'))
        if str(vis_cfg.get('type', '')).split('.')[-1] in ('DetLocalVisualizer',
                                                           'PSALMLocalVisualizer'):
            vis_cfg['type'] = 'PSALMLocalVisualizer'
        vis_cfg['vis_backends'] = []
        vis_cfg.pop('save_dir', None)
        cfg = copy.deepcopy(cfg)
        cfg.visualizer = vis_cfg
        visualizer = super(DetInferencer, self)._init_visualizer(cfg)
        visualizer.dataset_meta = self.model.dataset_meta
        return visualizer

    # ------------------------------------------------------------- the tasks
    def check_task(self, task: str) -> str:
        """The model task of a user task; a clear error if the checkpoint's config cannot run
        it (names the config file and the field)."""
        if task not in TASKS:
            raise ValueError(f'unknown task {task!r}; one of {sorted(TASKS)}')
        model_task, where = TASKS[task], self._where(self.cfg)
        prompts = self.model.prompt_encoder.task_prompts
        if model_task not in prompts:
            raise ValueError(f'task {task!r} is not supported by {where}: '
                             f'model.prompt_encoder.task_prompts has no {model_task!r} '
                             f'(it has {sorted(prompts)})')
        condition = prompts[model_task].get('condition')
        if condition != TASK_CONDITIONS[model_task]:
            raise ValueError(f'task {task!r} is not supported by {where}: '
                             f'model.prompt_encoder.task_prompts[{model_task!r}] has condition '
                             f'{condition!r}, the task needs {TASK_CONDITIONS[model_task]!r}')
        if condition != 'none' and not self.model.postprocessors.get(model_task):
            raise ValueError(f'task {task!r} is not supported by {where}: '
                             f'model.test_cfg.postprocess[{model_task!r}] is empty or missing, '
                             'so the model writes no result for it')
        return model_task

    def default_categories(self) -> Dict[str, list]:
        """``categories`` and ``is_thing`` of the config's test dataset (e.g. COCO panoptic)."""
        meta = self.model.dataset_meta
        classes = list(meta.get('classes') or [])
        if not classes:
            raise ValueError(f'categories: none given, and {self._where(self.cfg)} has no test '
                             'dataset classes to default to')
        things = meta.get('thing_classes')
        is_thing = [c in set(things) for c in classes] if things is not None else None
        return dict(categories=classes, is_thing=is_thing)

    # ---------------------------------------------------------------- inputs
    def _inputs_to_list(self, inputs: Union[InputType, Sequence[InputType]]) -> list:
        if isinstance(inputs, str) and isdir(inputs):
            names = sorted(list_dir_or_file(inputs, list_dir=False, suffix=IMG_EXTENSIONS))
            if not names:
                raise ValueError(f'no image ({"/".join(IMG_EXTENSIONS)}) in folder {inputs!r}')
            inputs = [join_path(inputs, n) for n in names]
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        return list(inputs)

    def prepare(self, inputs: Union[InputType, Sequence[InputType]], task: Optional[str] = None,
                **prompt: Any) -> List[dict]:
        """Read and check every input; returns one record per sample (``info``: the data info,
        ``image``: the path or array, ``name``: the output name).

        An input is an image path, a folder of images, a BGR uint8 array or a dict with
        ``img``/``img_path`` and its own ``task``, prompt keys and ``name``; the keyword prompts
        apply to the inputs that do not set them.
        """
        records, used = [], set()
        items = self._inputs_to_list(inputs)
        if not items:
            raise ValueError('no input image given')
        for i, item in enumerate(items):
            spec = dict(prompt, task=task)
            if isinstance(item, dict):
                item = dict(item)
                image = item.pop('img', item.pop('img_path', None))
                spec.update({k: v for k, v in item.items() if v is not None})
            else:
                image = item
            field = f'inputs[{i}]'
            img = read_image(image, field)
            name = spec.pop('name', None) or (
                osp.splitext(osp.basename(image))[0] if isinstance(image, str)
                else f'{self.num_visualized_imgs + i:08d}')
            base, n = name, 1
            while name in used:  # the same image twice (e.g. two sentences): distinct files
                name, n = f'{base}_{n}', n + 1
            used.add(name)
            user_task = spec.pop('task')
            if user_task is None:
                raise ValueError(f'{field}: no task given; one of {sorted(TASKS)}')
            if user_task == 'vos':
                raise ValueError('task vos runs on a video: use track_video()')
            self.check_task(user_task)
            if TASK_CONDITIONS[TASKS[user_task]] == 'category' and not spec.get('categories'):
                defaults = self.default_categories()
                spec['categories'] = defaults['categories']
                if spec.get('is_thing') is None:
                    spec['is_thing'] = defaults['is_thing']
            unknown = set(spec) - {'categories', 'is_thing', 'text', 'visual_prompts',
                                   'question', 'conversation'}
            if unknown:
                raise ValueError(f'{field}: unknown prompt keys {sorted(unknown)}')
            info = build_data_info(user_task, image, img.shape[:2], name, **spec)
            records.append(dict(info=info, image=image, name=name))
        return records

    def preprocess(self, records: List[dict], batch_size: int = 1, **kwargs) -> Iterable:
        """Yield (records, collated batch) chunks of ``batch_size`` samples."""
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            data = [self.pipeline(copy.deepcopy(r['info'])) for r in chunk]
            yield chunk, self.collate_fn(data)

    # ------------------------------------------------------------------ call
    def __call__(self,
                 inputs: Union[InputType, Sequence[InputType]],
                 task: Optional[str] = None,
                 categories: Optional[Sequence[str]] = None,
                 is_thing: Optional[Sequence[bool]] = None,
                 text: Optional[str] = None,
                 visual_prompts: Optional[Sequence[dict]] = None,
                 question: Optional[str] = None,
                 batch_size: int = 1,
                 out_dir: str = '',
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: float = 0,
                 no_save_vis: bool = False,
                 draw_pred: bool = True,
                 draw_prompts: bool = True,
                 pred_score_thr: float = 0.3,
                 return_datasamples: bool = False,
                 print_result: bool = False,
                 no_save_pred: bool = True) -> dict:
        """Run one task on one or several images (batched by ``batch_size``).

        Returns:
            dict with ``predictions`` (JSON-able dicts, see :meth:`pred2dict`, or
            ``DetDataSample``s with ``return_datasamples``) and ``visualization`` (RGB arrays
            with ``return_vis``). With ``out_dir``: ``<out_dir>/vis/<name>.jpg`` and, unless
            ``no_save_pred``, ``<out_dir>/preds/<name>.json``.
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        records = self.prepare(inputs, task, categories=categories, is_thing=is_thing, text=text,
                               visual_prompts=visual_prompts, question=question)
        results: Dict[str, list] = dict(predictions=[], visualization=[])
        chunks = self.preprocess(records, batch_size)
        if self.show_progress:
            chunks = track(chunks, description='Inference',
                           total=(len(records) + batch_size - 1) // batch_size)
        for chunk, data in chunks:
            preds = self.forward(data)
            vis = self.visualize(chunk, preds, return_vis=return_vis, show=show,
                                 wait_time=wait_time, no_save_vis=no_save_vis,
                                 draw_pred=draw_pred, draw_prompts=draw_prompts,
                                 pred_score_thr=pred_score_thr, img_out_dir=out_dir)
            out = self.postprocess(preds, vis, return_datasamples=return_datasamples,
                                   print_result=print_result, no_save_pred=no_save_pred,
                                   pred_out_dir=out_dir)
            results['predictions'].extend(out['predictions'])
            if out['visualization'] is not None:
                results['visualization'].extend(out['visualization'])
        return results

    def visualize(self,
                  records: List[dict],
                  preds: List[DetDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: float = 0,
                  draw_pred: bool = True,
                  draw_prompts: bool = True,
                  pred_score_thr: float = 0.3,
                  no_save_vis: bool = False,
                  img_out_dir: str = '',
                  **kwargs) -> Optional[List[np.ndarray]]:
        """Draw each prediction with its prompts; write ``<img_out_dir>/vis/<name>.jpg``."""
        if no_save_vis:
            img_out_dir = ''
        if not show and not img_out_dir and not return_vis:
            return None
        if self.visualizer is None:
            raise ValueError(f'{self._where(self.cfg)} defines no `visualizer`')
        drawn_all = []
        for record, pred in zip(records, preds):
            image = record['image']
            bgr = image if isinstance(image, np.ndarray) else mmcv.imread(image)
            self.visualizer.add_datasample(record['name'], bgr[..., ::-1], pred, draw_gt=False,
                                           draw_pred=draw_pred, show=show, wait_time=wait_time,
                                           pred_score_thr=pred_score_thr,
                                           draw_prompts=draw_prompts)
            drawn = self.visualizer.get_image()
            if img_out_dir:
                write_bytes_atomic(osp.join(img_out_dir, 'vis', record['name'] + '.jpg'),
                                   encode_image(drawn))
            drawn_all.append(drawn)
            self.num_visualized_imgs += 1
        return drawn_all

    def postprocess(self,
                    preds: List[DetDataSample],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasamples: bool = False,
                    print_result: bool = False,
                    no_save_pred: bool = True,
                    pred_out_dir: str = '',
                    **kwargs) -> dict:
        """JSON-able dicts (or the samples); write ``<pred_out_dir>/preds/<name>.json``."""
        dicts = [self.pred2dict(p) for p in preds]
        if pred_out_dir and not no_save_pred:
            for d in dicts:
                write_bytes_atomic(osp.join(pred_out_dir, 'preds', d['name'] + '.json'),
                                   json.dumps(d).encode('utf-8'))
        if print_result:
            for d in dicts:
                print(json.dumps(summarize(d)))
        self.num_predicted_imgs += len(preds)
        return dict(predictions=preds if return_datasamples else dicts,
                    visualization=visualization)

    # ---------------------------------------------------------------- results
    def pred2dict(self, data_sample: DetDataSample, pred_out_dir: str = '') -> dict:
        """A prediction as a JSON-able dict.

        Keys: ``name``, ``image`` (path or None), ``height``, ``width``, ``task``, ``prompt``
        (what was asked: ``categories``/``is_thing``, ``text``, ``regions`` or ``question``),
        then what the task produces: ``instances`` (``label``, ``score``, ``bbox`` [x1, y1, x2,
        y2], ``mask`` COCO RLE with ``size`` [H, W], and ``category``, ``region`` or
        ``object_id``), ``panoptic`` (segments: ``id``, ``label``, ``category``, ``isthing``,
        ``area``, ``mask``), ``semantic`` (per present category: ``label``, ``category``,
        ``area``, ``mask``), ``no_target`` (gres), ``answer`` (vqa).
        """
        meta = data_sample.metainfo
        model_task = meta['task']
        h, w = meta['ori_shape'][:2]
        out: Dict[str, Any] = dict(name=meta.get('out_name'), image=meta.get('img_path'),
                                   height=int(h), width=int(w),
                                   task=USER_TASKS.get(model_task, model_task),
                                   prompt=self._prompt_dict(meta))
        names = list(meta.get('categories') or [])
        if 'pred_instances' in data_sample:
            inst = data_sample.pred_instances.cpu()
            masks = inst.masks.numpy().astype(bool)
            items = []
            for k in range(len(inst)):
                item = dict(label=int(inst.labels[k]), score=float(inst.scores[k]),
                            bbox=[float(v) for v in inst.bboxes[k]],
                            mask=encode_rle(masks[k]))
                if names:
                    item['category'] = names[item['label']]
                elif meta.get('object_ids') is not None:
                    item['object_id'] = int(meta['object_ids'][item['label']])
                elif model_task in ('interactive', 'vos'):
                    item['region'] = item['label']
                items.append(item)
            out['instances'] = items
            if 'no_target' in inst:
                out['no_target'] = bool(inst.no_target[0])
        if 'pred_panoptic_seg' in data_sample:
            pan = data_sample.pred_panoptic_seg.sem_seg[0].cpu().numpy()
            is_thing = meta.get('is_thing') or [True] * len(names)
            segments = []
            for seg_id in np.unique(pan):
                label = int(seg_id % INSTANCE_OFFSET)
                if label == len(names):  # void
                    continue
                mask = pan == seg_id
                segments.append(dict(id=int(seg_id), label=label, category=names[label],
                                     isthing=bool(is_thing[label]), area=int(mask.sum()),
                                     mask=encode_rle(mask)))
            out['panoptic'] = segments
        if 'pred_sem_seg' in data_sample:
            sem = data_sample.pred_sem_seg.sem_seg[0].cpu().numpy()
            out['semantic'] = [dict(label=int(c), category=names[int(c)],
                                    area=int((sem == c).sum()), mask=encode_rle(sem == c))
                               for c in np.unique(sem)]
        if 'pred_text' in data_sample:
            out['answer'] = str(data_sample.pred_text).strip()
        return out

    @staticmethod
    def _prompt_dict(meta: dict) -> dict:
        condition = TASK_CONDITIONS.get(meta['task'])
        if condition == 'category':
            return dict(categories=list(meta['categories']), is_thing=list(meta['is_thing']))
        if condition == 'sentence':
            return dict(text=meta['text'])
        if condition == 'visual_prior':
            regions = []
            for p in meta.get('visual_prompts') or []:
                region = dict(type=p['type'])
                if p['type'] == 'mask':
                    region['file'] = p.get('file')
                    region['mask'] = encode_rle(np.asarray(p['data']).astype(bool))
                else:
                    region['data'] = p['data']
                regions.append(region)
            return dict(regions=regions)
        turns = meta.get('conversation') or []
        question = str(turns[-1]['value']).replace('<image>', '').strip() if turns else ''
        return dict(question=question)

    # ----------------------------------------------------------------- video
    def track_video(self,
                    frames: Union[str, Sequence[str]],
                    first_mask: str,
                    out_dir: str = '',
                    video_name: Optional[str] = None,
                    memory_iou_thr: float = 0.4,
                    fps: float = 10.0,
                    write_video: bool = True,
                    draw: bool = True) -> dict:
        """Semi-supervised video object segmentation with the reference's prompt memory.

        Frame ``t`` is prompted (``vos`` task, one mask prompt per object) with the masks
        predicted on frame ``t - 1``, starting from ``first_mask``; predictions replace the
        prompts only when no two overlap with IoU > ``memory_iou_thr``, and an object predicted
        empty keeps its prompt (:class:`VOSMemory`, the rule of ``VOSTestLoop``).

        Args:
            frames: a folder of frames (numeric-aware name order) or a list of frame paths.
            first_mask: indexed PNG of frame 0 (DAVIS: palette index = object id, 0 background,
                255 void).
            out_dir: writes ``masks/<frame>.png`` (indexed, DAVIS palette, object ids; frame 0
                is the given mask without void), ``vis/<frame>.jpg`` overlays,
                ``preds/<video>.json`` and ``<video>.mp4`` (when OpenCV can encode it).

        Returns:
            dict: ``video``, ``object_ids``, ``frames`` (per frame: ``name``, ``objects`` with
            ``object_id``, ``score``, ``mask`` RLE, and ``memory_updated``), ``video_path``.
        """
        model_task = self.check_task('vos')
        paths = list_frames(frames) if isinstance(frames, str) else list(frames)
        if len(paths) < 2:
            raise ValueError(f'a video needs at least 2 frames, got {len(paths)}')
        video = video_name or (osp.basename(osp.normpath(frames)) if isinstance(frames, str)
                               else 'video')
        shape = read_image(paths[0], 'frames[0]').shape[:2]
        for i, path in enumerate(paths[1:], 1):  # all checked before anything is written
            got = read_image(path, f'frames[{i}]').shape[:2]
            if got != shape:
                raise ValueError(f'frames[{i}] {path!r} is {got[1]}x{got[0]} (WxH), frame 0 is '
                                 f'{shape[1]}x{shape[0]}')
        masks, ids = read_object_masks(first_mask, shape)
        memory = VOSMemory(masks, memory_iou_thr)
        names = [osp.splitext(osp.basename(p))[0] for p in paths]
        writer = _VideoOutput(out_dir, video, fps) if out_dir and write_video and draw else None
        result: Dict[str, Any] = dict(video=video, object_ids=ids, frames=[])
        try:
            first = DetDataSample(metainfo=dict(task=model_task, object_ids=ids,
                                                ori_shape=shape, out_name=names[0],
                                                img_path=paths[0]))
            first.pred_instances = _region_instances(masks, np.ones(len(ids), np.float32))
            self._video_frame(out_dir, paths[0], first, masks, [1.0] * len(ids), ids, True,
                              draw, writer, result)
            for t in range(1, len(paths)):
                info = dict(task=model_task, img_path=paths[t], out_name=names[t],
                            object_ids=ids,
                            visual_prompts=[dict(type='mask', data=m) for m in memory.masks])
                pred = self.forward(self.collate_fn([self.pipeline(info)]))[0]
                inst = pred.pred_instances.cpu()
                pred_masks = inst.masks.numpy().astype(bool)
                updated = memory.update(pred_masks)
                self._video_frame(out_dir, paths[t], pred, pred_masks,
                                  inst.scores.tolist(), ids, updated, draw, writer, result)
            if writer is not None:
                result['video_path'] = writer.close()
        finally:
            if writer is not None:
                writer.abort()
        if out_dir:
            write_bytes_atomic(osp.join(out_dir, 'preds', video + '.json'),
                               json.dumps(result).encode('utf-8'))
        return result

    def _video_frame(self, out_dir: str, path: str, sample: DetDataSample, masks: np.ndarray,
                     scores: List[float], ids: List[int], updated: bool, draw: bool,
                     writer: Optional['_VideoOutput'], result: dict) -> None:
        name = sample.metainfo['out_name']
        result['frames'].append(dict(
            name=name, memory_updated=bool(updated),
            objects=[dict(object_id=int(i), score=float(s), mask=encode_rle(m))
                     for i, s, m in zip(ids, scores, masks)]))
        if not out_dir:
            return
        index = masks_to_index_map(masks, scores, ids)
        write_bytes_atomic(osp.join(out_dir, 'masks', name + '.png'), encode_indexed_png(index))
        if draw:
            self.visualizer.add_datasample(name, mmcv.imread(path)[..., ::-1], sample,
                                           draw_gt=False, draw_prompts=False)
            drawn = self.visualizer.get_image()
            write_bytes_atomic(osp.join(out_dir, 'vis', name + '.jpg'), encode_image(drawn))
            if writer is not None:
                writer.add(drawn)


def _region_instances(masks: np.ndarray, scores: np.ndarray) -> InstanceData:
    """(K, H, W) given masks as the prediction of K regions (frame 0 of a video)."""
    m = torch.as_tensor(masks, dtype=torch.bool)
    return InstanceData(masks=m, bboxes=mask2bbox(m), scores=torch.as_tensor(scores),
                        labels=torch.arange(len(masks)))


class _VideoOutput:
    """The overlay frames as ``<out_dir>/<video>.mp4`` (OpenCV's ``mp4v``), written to a
    temporary file and renamed at the end; skipped with a warning where OpenCV cannot encode."""

    def __init__(self, out_dir: str, video: str, fps: float) -> None:
        self.path = osp.join(out_dir, video + '.mp4')
        self.tmp = osp.join(out_dir, f'.tmp-{video}.mp4')
        self.fps = fps
        self.writer = None
        self.failed = False

    def add(self, rgb: np.ndarray) -> None:
        if self.failed:
            return
        if self.writer is None:
            os.makedirs(osp.dirname(osp.abspath(self.tmp)), exist_ok=True)
            self.size = (rgb.shape[1], rgb.shape[0])
            self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*'mp4v'), self.fps,
                                          self.size)
            if not self.writer.isOpened():
                warnings.warn('OpenCV cannot write mp4 here: no video, the frames are in vis/')
                self.failed = True
                return
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size)
        self.writer.write(np.ascontiguousarray(rgb[..., ::-1]))

    def close(self) -> Optional[str]:
        if self.writer is None or self.failed:
            return None
        self.writer.release()
        self.writer = None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        if osp.exists(self.tmp):
            os.remove(self.tmp)


def summarize(pred: dict) -> dict:
    """A prediction dict without the RLE masks (for printing)."""
    out = {k: v for k, v in pred.items() if k not in ('instances', 'panoptic', 'semantic')}
    for key in ('instances', 'panoptic', 'semantic'):
        if key in pred:
            out[key] = [{k: v for k, v in item.items() if k != 'mask'} for item in pred[key]]
    return out
