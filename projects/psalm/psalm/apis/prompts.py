"""User prompts -> the data infos PSALM's datasets produce, checked against the image first.

The inferencer feeds ``predict()`` exactly as evaluation does: each image becomes a data info with
``task`` and the prompt keys of :mod:`psalm.models.condition_prompt` (``categories`` and
``is_thing``, ``text``, ``visual_prompts`` for :class:`~psalm.datasets.LoadVisualPrompts`, or
``conversation``), and the config's test pipeline turns it into a packed sample. Everything here
raises ``ValueError`` (naming the field, the region and the file) before any output is written.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np

from psalm.datasets.transforms.visual_prompts import decode_mask
from psalm.models.condition_prompt import DEFAULT_TASK_PROMPTS
from psalm.structures import PROMPT_TYPES

# User-facing task -> the model's task (the ``task`` metainfo).
TASKS: Dict[str, str] = dict(
    panoptic='panoptic', instance='instance', semantic='semantic', referring='referring',
    gres='gres', interactive='interactive', vqa='conversation', vos='vos')
# The condition each model task must have in the config (``prompt_encoder.task_prompts``).
TASK_CONDITIONS: Dict[str, str] = {
    task: prompt['condition'] for task, prompt in DEFAULT_TASK_PROMPTS.items()}
USER_TASKS = {v: k for k, v in TASKS.items()}

ImageInput = Union[str, np.ndarray]


def read_image(image: ImageInput, field: str = 'image') -> np.ndarray:
    """An image path or a BGR (H, W, 3) uint8 array -> the BGR array; clear errors otherwise."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or not image.size:
            raise ValueError(f'{field}: an array input must be a BGR (H, W, 3) uint8 image, got '
                             f'shape {image.shape} and dtype {image.dtype}')
        return image
    if not isinstance(image, str):
        raise TypeError(f'{field}: expected an image path or a numpy array, got '
                        f'{type(image).__name__}')
    if not osp.isfile(image):
        raise FileNotFoundError(f'{field}: image file {image!r} not found')
    try:
        img = mmcv.imread(image)
    except Exception as err:  # OpenCV and Pillow raise many kinds on broken files
        raise ValueError(f'{field}: cannot read image {image!r} ({err})') from err
    if img is None or img.size == 0:
        raise ValueError(f'{field}: cannot read image {image!r}: not an image or a corrupt file')
    return img


def read_mask_png(path: str, shape: Tuple[int, int], field: str) -> np.ndarray:
    """A mask image -> (H, W) bool: nonzero pixels (any nonzero colour channel for RGB files)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{field}: mask file {path!r} not found')
    try:
        # Pillow keeps palette indices of indexed PNGs, which OpenCV would turn into colours.
        arr = mmcv.imread(path, flag='unchanged', backend='pillow')
    except Exception as err:
        raise ValueError(f'{field}: cannot read mask {path!r} ({err})') from err
    if arr is None or arr.size == 0:
        raise ValueError(f'{field}: cannot read mask {path!r}')
    mask = arr[..., :3].any(-1) if arr.ndim == 3 else arr != 0
    if mask.shape != tuple(shape):
        raise ValueError(f'{field}: mask {path!r} is {mask.shape[1]}x{mask.shape[0]} (WxH), the '
                         f'image is {shape[1]}x{shape[0]}')
    return mask


def _points(data: Any, field: str) -> np.ndarray:
    try:
        pts = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{field}: expected (x, y) numbers, got {data!r}') from err
    if pts.size == 0 or pts.size % 2 or not np.isfinite(pts).all():
        raise ValueError(f'{field}: expected one or more finite (x, y) pairs, got {data!r}')
    return pts.reshape(-1, 2)


def _check_inside(pts: np.ndarray, shape: Tuple[int, int], field: str, name: str) -> None:
    h, w = shape
    bad = (pts[:, 0] < 0) | (pts[:, 0] > w - 1) | (pts[:, 1] < 0) | (pts[:, 1] > h - 1)
    if bad.any():
        x, y = pts[bad][0]
        raise ValueError(f'{field}: ({x:g}, {y:g}) is outside the {w}x{h} image {name} '
                         f'(x in [0, {w - 1}], y in [0, {h - 1}])')


def normalize_visual_prompt(prompt: Any, shape: Tuple[int, int], field: str,
                            name: str) -> dict:
    """Check one region's prompt against the image and bring it to LoadVisualPrompts' form.

    Accepted (coordinates in original image pixels):

    - ``{'type': 'point', 'data': [x, y] or [[x, y], ...]}``
    - ``{'type': 'scribble', 'data': [[x, y], ...] or a list of such polylines}``
    - ``{'type': 'box', 'data': [x1, y1, x2, y2]}``
    - ``{'type': 'mask', 'data': PNG path | (H, W) array | COCO RLE or polygons}``

    Returns ``{'type', 'data'}`` (points (N, 2), polylines as lists of (n, 2) lists, a box list or
    an (H, W) bool mask) plus ``file`` for masks read from a file.
    """
    if not isinstance(prompt, dict) or 'type' not in prompt or 'data' not in prompt:
        raise ValueError(f'{field}: a visual prompt is a dict with "type" and "data", got '
                         f'{prompt!r}')
    kind, data = prompt['type'], prompt['data']
    if kind not in PROMPT_TYPES:
        raise ValueError(f'{field}: type {kind!r} is not one of {PROMPT_TYPES}')
    h, w = shape
    field = f'{field} ({kind})'
    if kind == 'point':
        pts = _points(data, field)
        _check_inside(pts, shape, field, name)
        return dict(type=kind, data=pts.tolist())
    if kind == 'scribble':
        try:  # one polyline [[x, y], ...] or several (of different lengths too)
            single = np.asarray(data, dtype=np.float64).ndim == 2
        except (TypeError, ValueError):
            single = False
        lines = [data] if single else list(data)
        out = []
        for j, line in enumerate(lines):
            pts = _points(line, f'{field} polyline {j}')
            _check_inside(pts, shape, f'{field} polyline {j}', name)
            out.append(pts.tolist())
        if not out:
            raise ValueError(f'{field}: no polyline given')
        return dict(type=kind, data=out)
    if kind == 'box':
        box = _points(data, field).ravel()
        if box.size != 4:
            raise ValueError(f'{field}: expected [x1, y1, x2, y2], got {data!r}')
        x1, y1, x2, y2 = box
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise ValueError(f'{field}: box {box.tolist()} must satisfy 0 <= x1 < x2 <= {w} and '
                             f'0 <= y1 < y2 <= {h} (the {w}x{h} image {name})')
        return dict(type=kind, data=box.tolist())
    # mask
    result = dict(type=kind)
    if isinstance(data, str):
        mask = read_mask_png(data, shape, field)
        result['file'] = data
    else:
        try:  # an array, a COCO RLE dict or polygons
            mask = decode_mask(data, h, w)
        except Exception as err:
            raise ValueError(f'{field}: cannot decode the mask ({err})') from err
        if mask.shape != (h, w):
            raise ValueError(f'{field}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH), the image '
                             f'{name} is {w}x{h}')
    if not mask.any():
        source = f' {result["file"]!r}' if 'file' in result else ''
        raise ValueError(f'{field}: the mask{source} is empty')
    result['data'] = mask.astype(bool)
    return result


def build_data_info(task: str, image: ImageInput, shape: Tuple[int, int], name: str,
                    categories: Optional[Sequence[str]] = None,
                    is_thing: Optional[Sequence[bool]] = None,
                    text: Optional[str] = None,
                    visual_prompts: Optional[Sequence[dict]] = None,
                    question: Optional[str] = None,
                    conversation: Optional[List[dict]] = None) -> dict:
    """The data info of one sample, as a dataset would give it to the test pipeline.

    Args:
        task: a user task (a key of :data:`TASKS`).
        image: the image path or BGR array (``img_path`` or ``img`` for mmdet's
            ``InferencerLoader``).
        shape: (H, W) of the image, for checking the prompts.
        name: how the image is called in error messages and output files.
        categories / is_thing: category tasks; ``is_thing`` defaults to all True (panoptic).
        text: referring / gres sentence.
        visual_prompts: interactive regions (see :func:`normalize_visual_prompt`).
        question / conversation: vqa, a question or LLaVA turns ending with a human turn.
    """
    if task not in TASKS:
        raise ValueError(f'task {task!r} is not one of {sorted(TASKS)}')
    model_task = TASKS[task]
    info: Dict[str, Any] = dict(task=model_task, out_name=name)
    if isinstance(image, np.ndarray):
        info['img'] = image
    else:
        info['img_path'] = image
    condition = TASK_CONDITIONS[model_task]
    if condition == 'category':
        if isinstance(categories, str) or not categories:
            raise ValueError(f'categories: task {task!r} needs a non-empty list of category '
                             f'names, got {categories!r}')
        names = [str(c).strip() for c in categories]
        if not all(names):
            raise ValueError(f'categories: empty category name in {list(categories)!r}')
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ValueError(f'categories: duplicated names {dup}')
        flags = [True] * len(names) if is_thing is None else [bool(t) for t in is_thing]
        if len(flags) != len(names):
            raise ValueError(f'is_thing: {len(flags)} flags for {len(names)} categories')
        info.update(categories=names, is_thing=flags)
    elif condition == 'sentence':
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f'text: task {task!r} needs a non-empty referring sentence, got '
                             f'{text!r}')
        info.update(text=text.strip())
    elif condition == 'visual_prior':
        if not visual_prompts:
            raise ValueError(f'visual_prompts: task {task!r} needs at least one region prompt')
        info['visual_prompts'] = [
            normalize_visual_prompt(p, shape, f'visual_prompts[{k}]', name)
            for k, p in enumerate(visual_prompts)]
    else:  # conversation
        if conversation is None:
            if not isinstance(question, str) or not question.strip():
                raise ValueError(f'question: task {task!r} needs a non-empty question, got '
                                 f'{question!r}')
            conversation = [{'from': 'human', 'value': '<image>\n' + question.strip()}]
        if (not conversation or conversation[-1].get('from') != 'human'
                or not str(conversation[-1].get('value', '')).strip()):
            raise ValueError('conversation: must end with a non-empty human turn')
        info.update(conversation=[dict(t) for t in conversation])
    return info
