"""COCO-Interactive visual prompts generated from instance masks (paper, appendix 8).

Every instance gets four prompts, each a mask at the original image size, RLE-encoded like the
reference json (``{'counts': ascii str, 'size': [h, w]}``):

- **point**: one pixel drawn uniformly from the disc centred on the centre of the instance box,
  with radius half the short box side. The appendix puts no condition on the mask, so the point is
  kept where it falls, **also when it misses the object** (thin or concave shapes: rings, bent
  limbs); :func:`annotate_image` counts such points. ``PromptRules(point='in_mask')`` is the
  reference code's rule instead: a pixel *inside* the mask, offset from the mask centroid by at most
  half the short box side (independent ``U(0, r)`` radii for rows and columns, integer truncation,
  1000 tries, empty when all miss).
- **scribble**: the box's width and height are scaled independently by ``U(0.5, 1.2)`` about its
  centre (redrawn until the IoU with the box, after clipping to the image, is > 0.5); a sine curve
  runs along one of the jittered box's two diagonals, displaced along the diagonal's normal by
  ``A * sin(w * t + phi)`` with ``t`` in [0, 1] from one corner to the other,
  ``A ~ U(10, 20)`` px, ``w ~ U(0.2 * 2pi, 2pi)`` and ``phi ~ U(0, 2pi)``. Read this way, the
  paper's frequency range is the reference code's ``2pi * U(0.2, 1)`` (same distribution). Vertices
  are clipped to the image (as the reference clips them) and drawn as a connected 1-px polyline.
- **box**: the box scaled by one factor ``s ~ U(0.9, 1.1)`` (width and height alike) about its
  centre, rounded to pixels, clipped to the image, filled.
- **mask**: the mask blurred by a Gaussian of sigma 2 (scipy's ``gaussian_filter``: truncated at 4
  sigma, reflected border), then binarised at 0.5. ``PromptRules(mask_threshold='mean')`` is the
  reference code's threshold instead: above the mean of the blurred image (about the object's area
  fraction, so the prompt is a dilated mask).

"The box" is the tight pixel box of the decoded mask, as in the reference (``regionprops``), not
the COCO ``bbox`` field. An empty mask gives four empty prompts.

Not reproduced from the reference code (``datasets/bulid_COCO_Interactivate.py``): it generates
point, box and scribble once per connected component of area > 5 (so one instance may get several
points), centres the scribble's jittered box on the mask centroid, offsets the sine along the image
rows instead of the diagonal's normal, and truncates coordinates to integers.

Randomness comes from one ``numpy.random.Generator`` per image (:func:`image_rng`, seeded by the
seed and the COCO image id), consumed in annotation order, so a build is reproducible whatever the
number of processes. Work is done on crops around each instance, and RLEs are written from the crop
(:func:`encode_crop`), so the cost of an instance scales with its size, not the image's.
"""
import math
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pycocotools.mask as mask_util

from psalm.structures import PROMPT_TYPES

# Key of each prompt type in the reference json's annotations.
PROMPT_KEYS = {
    'point': 'point_visual_prompt_mask',
    'scribble': 'scribble_visual_prompt_mask',
    'box': 'box_visual_prompt_mask',
    'mask': 'mask_visual_prompt_mask',
}
# A box as half-open pixel ranges (x0, y0, x1, y1): columns x0..x1-1, rows y0..y1-1.
PixelBox = Tuple[int, int, int, int]
_SCRIBBLE_BATCH = 16  # jittered boxes drawn per rejection round
_SCRIBBLE_ROUNDS = 64
_SUBPIXEL_BITS = 4  # cv2 fixed-point shift: vertices at 1/16 px


@dataclass(frozen=True)
class PromptRules:
    """The numbers of the appendix (defaults) and the reference code's variants.

    Args:
        point: ``'circle'`` (paper) or ``'in_mask'`` (reference code), see the module docstring.
        point_max_tries: candidate points of the ``'in_mask'`` rule before giving up (1000).
        box_scale: range of the box prompt's scale factor.
        scribble_scale: range of the scribble box's width and height factors.
        scribble_min_iou: the scribble box's IoU with the box must exceed this.
        scribble_amplitude: sine amplitude range, pixels.
        scribble_omega: angular frequency range, radians over the whole diagonal.
        scribble_phase: phase range, radians.
        mask_sigma: Gaussian standard deviation of the mask prompt.
        mask_threshold: ``'half'`` (blurred value > 0.5, paper) or ``'mean'`` (> mean of the
            blurred image, reference code).
    """

    point: str = 'circle'
    point_max_tries: int = 1000
    box_scale: Tuple[float, float] = (0.9, 1.1)
    scribble_scale: Tuple[float, float] = (0.5, 1.2)
    scribble_min_iou: float = 0.5
    scribble_amplitude: Tuple[float, float] = (10.0, 20.0)
    scribble_omega: Tuple[float, float] = (0.2 * 2 * math.pi, 2 * math.pi)
    scribble_phase: Tuple[float, float] = (0.0, 2 * math.pi)
    mask_sigma: float = 2.0
    mask_threshold: str = 'half'

    def __post_init__(self) -> None:
        if self.point not in ('circle', 'in_mask'):
            raise ValueError(f"PromptRules.point must be 'circle' or 'in_mask', got {self.point!r}")
        if self.mask_threshold not in ('half', 'mean'):
            raise ValueError("PromptRules.mask_threshold must be 'half' or 'mean', got "
                             f'{self.mask_threshold!r}')
        for name in ('box_scale', 'scribble_scale', 'scribble_amplitude', 'scribble_omega',
                     'scribble_phase'):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f'PromptRules.{name} must be (low, high), got {(lo, hi)}')
        if self.mask_sigma <= 0 or self.point_max_tries < 1:
            raise ValueError('PromptRules.mask_sigma must be > 0 and point_max_tries >= 1')


PAPER_RULES = PromptRules()
# The reference code's point rule and mask threshold (its scribble frequency is the paper's).
REFERENCE_RULES = PromptRules(point='in_mask', mask_threshold='mean')


def image_rng(seed: int, image_id: int) -> np.random.Generator:
    """The generator of one image: independent streams per (seed, image id), any process order."""
    return np.random.default_rng([int(seed), int(image_id)])


def mask_bbox(mask: np.ndarray) -> Optional[PixelBox]:
    """(H, W) mask -> tight half-open pixel box (x0, y0, x1, y1), or None when empty."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def encode_crop(crop: np.ndarray, x0: int, y0: int, height: int, width: int) -> dict:
    """A crop pasted at (x0, y0) into an empty (height, width) image -> COCO RLE with str counts.

    Same bytes as ``pycocotools.mask.encode`` of the full image, in time proportional to the
    crop: runs are counted on the crop's columns, each followed by one 0 that stands for the
    ``height - ch`` zeros between the crop's end in a column and its start in the next.
    """
    ch, cw = crop.shape
    if x0 < 0 or y0 < 0 or x0 + cw > width or y0 + ch > height:
        raise ValueError(f'crop {crop.shape} at ({x0}, {y0}) exceeds the image {(height, width)}')
    if ch == 0 or cw == 0:
        counts = np.array([height * width], np.int64)
    else:
        gap = height - ch  # zeros between the crop's slices of consecutive columns
        cols = np.zeros((cw, ch + (gap > 0)), np.uint8)  # RLE runs go down the columns
        cols[:, :ch] = crop.T != 0
        flat = cols.ravel()
        bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
        counts = np.diff(bounds)
        if gap > 1:  # each separator is a 0 inside a 0-run: give that run the whole gap
            seps = np.arange(ch, flat.size, ch + 1)
            np.add.at(counts, np.searchsorted(bounds, seps, side='right') - 1, gap - 1)
        if flat[0]:
            counts = np.concatenate(([0], counts))  # RLE counts start with a (maybe empty) 0-run
        counts[0] += x0 * height + y0
        # The last separator stood for `gap` zeros; after the last column's slice come
        # `gap - y0`, then the columns right of the crop.
        tail = (width - x0 - cw) * height - y0
        if len(counts) % 2:  # ends with a 0-run
            counts[-1] += tail
            if counts[-1] == 0:
                counts = counts[:-1]
        elif tail:
            counts = np.concatenate((counts, [tail]))
    rle = mask_util.frPyObjects({'counts': counts.tolist(), 'size': [height, width]},
                                height, width)
    return {'counts': rle['counts'].decode('ascii'), 'size': [height, width]}


def encode_box(x0: int, y0: int, x1: int, y1: int, height: int, width: int) -> dict:
    """A filled half-open pixel box -> COCO RLE with str counts (as :func:`encode_crop`)."""
    bw, bh = x1 - x0, y1 - y0
    if bw <= 0 or bh <= 0 or bh == height:  # empty, or columns that merge into one run
        return encode_crop(np.ones((max(bh, 0), max(bw, 0)), np.uint8), x0, y0, height, width)
    counts = np.full(2 * bw + 1, bh, np.int64)  # one 1-run per column, 0-runs between
    counts[2:-1:2] = height - bh
    counts[0] = x0 * height + y0
    counts[-1] = height - y1 + (width - x1) * height
    if counts[-1] == 0:
        counts = counts[:-1]
    rle = mask_util.frPyObjects({'counts': counts.tolist(), 'size': [height, width]},
                                height, width)
    return {'counts': rle['counts'].decode('ascii'), 'size': [height, width]}


def empty_rle(height: int, width: int) -> dict:
    """RLE of an all-zero (height, width) mask."""
    return encode_crop(np.zeros((0, 0), np.uint8), 0, 0, height, width)


def rle_counts(rle: dict) -> np.ndarray:
    """Run lengths of a compressed COCO RLE (pycocotools' ``rleFrString``, vectorised)."""
    counts = rle['counts']
    chars = np.frombuffer(counts.encode('ascii') if isinstance(counts, str) else counts,
                          np.uint8).astype(np.int64) - 48
    if chars.size == 0:
        return np.zeros(0, np.int64)
    # Each value is 5-bit groups, least significant first; bit 0x20 says another group follows.
    last = np.flatnonzero((chars & 0x20) == 0)
    first = np.concatenate(([0], last[:-1] + 1))
    group = np.repeat(np.arange(last.size), last - first + 1)
    shift = 5 * (np.arange(chars.size) - first[group])
    # < 2**35 per value for any image below 2**31 pixels: exact in float64
    values = np.bincount(group, (chars & 0x1f) << shift).astype(np.int64)
    negative = (chars[last] & 0x10) != 0  # sign bit of the last group
    values[negative] |= -1 << (shift[last[negative]] + 5)
    # From the fourth run on, values are differences to the run two places before.
    out = values.copy()
    out[1::2] = np.cumsum(values[1::2])
    out[2::2] = np.cumsum(values[2::2])
    return out


def decode_crop(rle: dict, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Rows y0..y1-1, columns x0..x1-1 of a compressed COCO RLE -> (y1-y0, x1-x0) uint8.

    Equals ``pycocotools.mask.decode(rle)[y0:y1, x0:x1]`` in time proportional to the runs and to
    the spanned columns, not to the image.
    """
    h = int(rle['size'][0])
    ends = np.cumsum(rle_counts(rle))
    starts, ends = ends[::2][:len(ends[1::2])], ends[1::2]  # 1-runs: [end of 0-run, end)
    lo, n = x0 * h, (x1 - x0) * h  # the spanned columns, column-major
    starts, ends = np.clip(starts - lo, 0, n), np.clip(ends - lo, 0, n)
    edges = np.bincount(starts, minlength=n + 1) - np.bincount(ends, minlength=n + 1)
    cols = np.cumsum(edges[:-1]).astype(np.uint8).reshape(x1 - x0, h)
    return np.ascontiguousarray(cols[:, y0:y1].T)


def segmentation_to_rle(segmentation: Union[list, dict], height: int, width: int) -> dict:
    """A COCO ``segmentation`` -> one RLE (bytes counts) for ``pycocotools.mask.decode``.

    Polygons with fewer than 3 points or an odd number of coordinates are dropped, as mmdet's
    ``LoadAnnotations`` drops them, so prompts come from the mask the model is trained on.

    Raises:
        ValueError: on an unknown format or an RLE whose size is not (height, width).
    """
    if isinstance(segmentation, list):
        polys = [p for p in segmentation
                 if isinstance(p, (list, tuple)) and len(p) >= 6 and len(p) % 2 == 0]
        if not polys:
            return mask_util.frPyObjects({'counts': [height * width], 'size': [height, width]},
                                         height, width)
        return mask_util.merge(mask_util.frPyObjects(polys, height, width))
    if isinstance(segmentation, dict) and 'counts' in segmentation and 'size' in segmentation:
        if list(segmentation['size']) != [height, width]:
            raise ValueError(f"RLE size {segmentation['size']} is not the image's "
                             f'{[height, width]}')
        if isinstance(segmentation['counts'], list):  # uncompressed (crowd) RLE
            return mask_util.frPyObjects(segmentation, height, width)
        counts = segmentation['counts']
        return {'size': [height, width],
                'counts': counts.encode('ascii') if isinstance(counts, str) else counts}
    raise ValueError('segmentation must be polygons or an RLE dict with counts and size, got '
                     f'{type(segmentation).__name__}')


def sample_point(box: PixelBox, rng: np.random.Generator, rules: PromptRules = PAPER_RULES,
                 box_mask: Optional[np.ndarray] = None) -> Optional[Tuple[int, int]]:
    """The point prompt of an instance -> pixel (x, y), or None (``'in_mask'`` rule, all missed).

    With the paper's ``'circle'`` rule the pixel may lie outside the mask (the appendix only asks
    for the disc); it is kept, as the appendix describes.

    Args:
        box: the instance's tight pixel box.
        rng: the image's generator.
        rules: ``rules.point`` picks the paper's or the reference's rule.
        box_mask: the instance mask inside ``box`` (``mask[y0:y1, x0:x1]``), needed by the
            ``'in_mask'`` rule only.
    """
    x0, y0, x1, y1 = box
    radius = 0.5 * min(x1 - x0, y1 - y0)
    if rules.point == 'circle':
        u, v = rng.random(2)
        r, theta = radius * math.sqrt(u), 2 * math.pi * v  # uniform over the disc's area
        px = 0.5 * (x0 + x1) + r * math.cos(theta)
        py = 0.5 * (y0 + y1) + r * math.sin(theta)
        # The disc lies inside the box, so only its closing edge needs the clamp.
        return min(int(math.floor(px)), x1 - 1), min(int(math.floor(py)), y1 - 1)
    if box_mask is None or box_mask.shape != (y1 - y0, x1 - x0):
        raise ValueError("the 'in_mask' point rule needs the mask inside the box")
    rows, cols = np.nonzero(box_mask)
    c_row, c_col = rows.mean() + y0, cols.mean() + x0  # centroid in pixel indices
    n = rules.point_max_tries
    angle = rng.uniform(0, 2 * math.pi, n)
    row = np.trunc(c_row + rng.uniform(0, radius, n) * np.cos(angle)).astype(np.int64)
    col = np.trunc(c_col + rng.uniform(0, radius, n) * np.sin(angle)).astype(np.int64)
    row, col = np.clip(row, y0, y1 - 1), np.clip(col, x0, x1 - 1)
    hit = np.flatnonzero(box_mask[row - y0, col - x0])
    if hit.size == 0:
        return None
    return int(col[hit[0]]), int(row[hit[0]])


def box_iou(boxes: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """IoU of (N, 4) continuous xyxy boxes with one box -> (N,)."""
    ix = np.clip(np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1]), 0, None)
    inter = ix * iy
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / np.maximum(union, 1e-12)


def sample_scribble_box(box: PixelBox, image_hw: Tuple[int, int], rng: np.random.Generator,
                        rules: PromptRules = PAPER_RULES) -> np.ndarray:
    """The jittered box a scribble runs along -> (4,) continuous xyxy, clipped to the image.

    Width and height factors are drawn independently from ``rules.scribble_scale`` about the box
    centre, in vectorised rounds, until the clipped box's IoU with ``box`` exceeds
    ``rules.scribble_min_iou``. If no round succeeds (impossible with the paper's ranges in
    practice: about half the draws pass), the box itself is used.
    """
    h, w = image_hw
    x0, y0, x1, y1 = box
    cx, cy, bw, bh = 0.5 * (x0 + x1), 0.5 * (y0 + y1), x1 - x0, y1 - y0
    for _ in range(_SCRIBBLE_ROUNDS):
        scale = rng.uniform(*rules.scribble_scale, size=(_SCRIBBLE_BATCH, 2))
        half_w, half_h = 0.5 * scale[:, 0] * bw, 0.5 * scale[:, 1] * bh
        cand = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        cand = np.clip(cand, 0, [w, h, w, h])
        ok = np.flatnonzero(box_iou(cand, box) > rules.scribble_min_iou)
        if ok.size:
            return cand[ok[0]]
    return np.asarray(box, np.float64)


def sample_scribble(box: PixelBox, image_hw: Tuple[int, int], rng: np.random.Generator,
                    rules: PromptRules = PAPER_RULES) -> np.ndarray:
    """The scribble of an instance -> (N, 2) polyline vertices (x, y), continuous pixels.

    A sine curve along a random diagonal of :func:`sample_scribble_box`, displaced along the
    diagonal's unit normal, one vertex per pixel of diagonal length, clipped to the image.
    """
    h, w = image_hw
    bx0, by0, bx1, by1 = sample_scribble_box(box, image_hw, rng, rules)
    diagonal, amp, omega, phase = rng.random(4)
    start, end = ((bx0, by0), (bx1, by1)) if diagonal < 0.5 else ((bx0, by1), (bx1, by0))
    amp = rules.scribble_amplitude[0] + amp * np.subtract(*rules.scribble_amplitude[::-1])
    omega = rules.scribble_omega[0] + omega * np.subtract(*rules.scribble_omega[::-1])
    phase = rules.scribble_phase[0] + phase * np.subtract(*rules.scribble_phase[::-1])
    start, end = np.asarray(start), np.asarray(end)
    length = float(np.hypot(*(end - start)))
    t = np.linspace(0.0, 1.0, max(int(math.ceil(length)), 1) + 1)
    normal = np.array([start[1] - end[1], end[0] - start[0]]) / max(length, 1e-12)
    pts = start + t[:, None] * (end - start) + (amp * np.sin(omega * t + phase))[:, None] * normal
    # Keep vertices on pixel centres inside the image (the reference clips the same way).
    return np.clip(pts, 0.5, [w - 0.5, h - 0.5])


def draw_polyline(points: np.ndarray, image_hw: Tuple[int, int]) -> Tuple[np.ndarray, int, int]:
    """(N, 2) continuous (x, y) vertices -> 1-px 8-connected polyline as (crop, x0, y0)."""
    h, w = image_hw
    # cv2 puts integer coordinates at pixel centres: continuous x maps to x - 0.5.
    fixed = np.round((points - 0.5) * (1 << _SUBPIXEL_BITS)).astype(np.int64)
    lo = np.maximum(fixed.min(0) >> _SUBPIXEL_BITS, 0)
    hi = np.minimum((fixed.max(0) >> _SUBPIXEL_BITS) + 2, [w, h])
    crop = np.zeros((int(hi[1] - lo[1]), int(hi[0] - lo[0])), np.uint8)
    pts = (fixed - (lo << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.polylines(crop, [pts.reshape(-1, 1, 2)], isClosed=False, color=1, thickness=1,
                  lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return crop, int(lo[0]), int(lo[1])


def scaled_box(box: PixelBox, image_hw: Tuple[int, int], rng: np.random.Generator,
               rules: PromptRules = PAPER_RULES) -> PixelBox:
    """The box prompt: ``box`` scaled by one ``U(*rules.box_scale)`` factor about its centre,
    rounded to half-open pixel ranges and clipped to the image."""
    h, w = image_hw
    x0, y0, x1, y1 = box
    s = rng.uniform(*rules.box_scale)
    cx, cy, half_w, half_h = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * s * (x1 - x0), \
        0.5 * s * (y1 - y0)

    def rnd(v: float, hi: int) -> int:
        return min(max(int(math.floor(v + 0.5)), 0), hi)

    return rnd(cx - half_w, w), rnd(cy - half_h, h), rnd(cx + half_w, w), rnd(cy + half_h, h)


def blur_window(box: PixelBox, image_hw: Tuple[int, int],
                rules: PromptRules = PAPER_RULES) -> PixelBox:
    """The pixels the mask prompt of ``box`` can reach: the box grown by the kernel radius
    (scipy's ``int(4 * sigma + 0.5)``), clipped to the image."""
    h, w = image_hw
    r = int(4.0 * rules.mask_sigma + 0.5)
    x0, y0, x1, y1 = box
    return max(x0 - r, 0), max(y0 - r, 0), min(x1 + r, w), min(y1 + r, h)


def blurred_mask(window_mask: np.ndarray, image_hw: Tuple[int, int],
                 rules: PromptRules = PAPER_RULES) -> np.ndarray:
    """The mask prompt inside :func:`blur_window` -> (same shape) bool.

    Equals ``gaussian_filter(mask, sigma) > threshold`` of the full image (scipy's default
    4-sigma truncation, reflected border): every pixel the blur reaches is in the window, and the
    window's own border reflects either zeros or the image border.

    Args:
        window_mask: the instance mask inside its blur window.
        image_hw: the image size (the ``'mean'`` threshold averages over it).
        rules: sigma and threshold.
    """
    r = int(4.0 * rules.mask_sigma + 0.5)
    blur = cv2.GaussianBlur(window_mask.astype(np.float64), (2 * r + 1, 2 * r + 1),
                            rules.mask_sigma, sigmaY=rules.mask_sigma,
                            borderType=cv2.BORDER_REFLECT)
    # The reference's threshold: mean over the whole image; the blur is 0 outside the window.
    thr = 0.5 if rules.mask_threshold == 'half' else blur.sum() / (image_hw[0] * image_hw[1])
    return blur > thr


def generate_prompts(mask: np.ndarray, rng: np.random.Generator,
                     rules: PromptRules = PAPER_RULES) -> Dict[str, dict]:
    """(H, W) binary instance mask -> ``{type: RLE}`` for point, scribble, box and mask."""
    box = mask_bbox(mask)
    if box is None:
        return _generate(None, None, mask.shape, rng, rules)[0]
    wx0, wy0, wx1, wy1 = window = blur_window(box, mask.shape, rules)
    return _generate(box, (window, mask[wy0:wy1, wx0:wx1]), mask.shape, rng, rules)[0]


def _generate(box: Optional[PixelBox], window: Optional[Tuple[PixelBox, np.ndarray]],
              image_hw: Tuple[int, int], rng: np.random.Generator, rules: PromptRules
              ) -> Tuple[Dict[str, dict], Optional[Tuple[int, int]]]:
    """Prompts of one instance from its box and (blur window, mask in it); also the point.

    Draws from ``rng`` in a fixed order: point, scribble, box.
    """
    h, w = image_hw
    if box is None:
        empty = empty_rle(h, w)
        return {t: dict(empty) for t in PROMPT_TYPES}, None
    (wx0, wy0, _, _), window_mask = window
    x0, y0, x1, y1 = box
    prompts = {}
    point = sample_point(box, rng, rules,
                         window_mask[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0])
    if point is None:
        prompts['point'] = empty_rle(h, w)
    else:
        prompts['point'] = encode_box(point[0], point[1], point[0] + 1, point[1] + 1, h, w)
    prompts['scribble'] = encode_crop(*draw_polyline(sample_scribble(box, (h, w), rng, rules),
                                                     (h, w)), h, w)
    bx0, by0, bx1, by1 = scaled_box(box, (h, w), rng, rules)
    prompts['box'] = encode_box(bx0, by0, bx1, by1, h, w)
    prompts['mask'] = encode_crop(blurred_mask(window_mask, (h, w), rules), wx0, wy0, h, w)
    return {t: prompts[t] for t in PROMPT_TYPES}, point


def annotate_image(image_info: dict, anns: List[dict], rng: np.random.Generator,
                   rules: PromptRules = PAPER_RULES) -> Tuple[List[dict], Counter]:
    """Add the four ``*_visual_prompt_mask`` RLEs to every annotation of one image.

    Masks are only decoded inside each instance's blur window (:func:`decode_crop`).

    Args:
        image_info: the COCO image dict (``id``, ``height``, ``width``).
        anns: its COCO annotations, in file order; not modified.
        rng: the image's generator (:func:`image_rng`).
        rules: generation rules.

    Returns:
        the annotations (shallow copies with the prompt keys added) and counters:
        ``instances``, ``empty_masks`` (instances whose mask decodes empty), ``empty_<type>``
        and ``point_off_mask`` (point prompts outside their mask).

    Raises:
        ValueError: naming the annotation id, on a segmentation that cannot be decoded.
    """
    h, w = int(image_info['height']), int(image_info['width'])
    stats: Counter = Counter()
    out = []
    for ann in anns:
        try:
            rle = segmentation_to_rle(ann['segmentation'], h, w)
            x, y, bw, bh = (int(v) for v in mask_util.toBbox(rle))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"annotation id={ann.get('id')} of image id={image_info.get('id')}: "
                             f"field 'segmentation': {exc}") from exc
        box = window = None
        if bw > 0 and bh > 0:
            box = (x, y, x + bw, y + bh)
            window = blur_window(box, (h, w), rules)
            window = (window, decode_crop(rle, *window))
        prompts, point = _generate(box, window, (h, w), rng, rules)
        stats['instances'] += 1
        stats['empty_masks'] += box is None
        for t in PROMPT_TYPES:
            stats[f'empty_{t}'] += int(mask_util.area(prompts[t]) == 0)
        if point is not None:
            (wx0, wy0, _, _), window_mask = window
            stats['point_off_mask'] += not window_mask[point[1] - wy0, point[0] - wx0]
        out.append(dict(ann, **{PROMPT_KEYS[t]: rle for t, rle in prompts.items()}))
    return out, stats
