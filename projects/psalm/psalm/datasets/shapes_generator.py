"""Synthetic "shapes" scenes: the multi-task benchmark of issue #6.

A scene is a square canvas split into 1-3 *stuff* regions (``sky``: smooth vertical gradient,
``grass``: dark green streaky noise, ``wall``: grey-beige bricks) by straight or curved
boundaries, with 2-5 *things* on top (``circle``, ``square``, ``triangle``, ``star``; five
saturated colours; ``small`` or ``large``) drawn in painter's order. Everything a task needs is
derived from one scene:

- the image and its panoptic segmentation (the things' visible masks, then the stuff);
- referring expressions, each identifying exactly one thing with the fewest words that do
  (shape; colour / size + shape; then spatial words: "the leftmost ...", "the ... left of the
  ..."), plus other wordings (:func:`referring_expressions`);
- generalised expressions with several, one or no target (:func:`gres_expressions`);
- questions with short answers (counting, colour, shape, size, existence;
  :func:`instruct_questions`).

Pixel quantities are given for a 128-px canvas and scale with the canvas size. Nothing here reads
or writes files (``tools/dataset_converters/generate_shapes.py`` writes the data sets); the
randomness of one image comes from one ``numpy.random.Generator`` seeded with (seed, split, index)
(:func:`sample_rng`), so an image only depends on those three numbers and the canvas size.
"""
import math
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_util

THING_CLASSES = ('circle', 'square', 'triangle', 'star')
STUFF_CLASSES = ('sky', 'grass', 'wall')
# RGB. Saturated, so that no thing colour is close to a stuff texture (pale sky, dark olive grass,
# grey-beige wall).
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40),
    'green': (40, 190, 60),
    'blue': (40, 80, 225),
    'yellow': (240, 210, 30),
    'purple': (150, 50, 200),
}
SIZES = ('small', 'large')
# Equal-area radius (a shape covers pi r^2 px) at a 128-px canvas. The gap keeps the classes apart
# even after occlusion: a small shape covers <= ~520 px (pi 12^2 plus its rasterised edge), the
# visible part of a large one >= 0.6 pi 18^2 ~ 610 px.
RADII = {'small': (9.0, 12.0), 'large': (18.0, 25.0)}
BASE_SIZE = 128
SPLITS = ('train', 'val')
NUM_THINGS = (2, 5)
MIN_VISIBLE_FRACTION = 0.6  # an occluded thing keeps >= 60 % of its area ...
MIN_VISIBLE_AREA = 40.0  # ... and >= 40 px (at 128 px), else it is redrawn
PLACEMENT_TRIES = 40
RELATED_PROB = 0.3  # a new thing copies another's shape (twin, other colour or other size)
SPATIAL_ALTERNATIVE_PROB = 0.3  # a referring expression also gets a spatial wording
SPATIAL_MARGIN = 6.0  # px at 128: spatial words are used only with this much clearance
NO_TARGET_PROB = 0.6  # per image, chance of one no-target gRES expression (~20 % of them)
QUESTION_IMAGE_PROB = 0.5  # share of images with instruction samples
# Image ids (fixed per split, independent of the split sizes) and segment ids: the panoptic
# segment id of an image's k-th segment is image_id * SEGMENTS_PER_IMAGE + k, globally unique and
# below 2^24 (the PNG's RGB range); the instances json uses it as annotation id.
VAL_IMAGE_ID_OFFSET = 1_000_000
SEGMENTS_PER_IMAGE = 10
MAX_SEGMENT_ID = 256**3 - 1

EXTREMES = ('left', 'right', 'top', 'bottom')
RELATIONS = ('left', 'right', 'above', 'below')
# Attribute subsets a description may use, in the order they are preferred as the canonical
# (shortest) description of a thing: the shape noun first, then adding colour or size.
SHAPE_SUBSETS = (('shape', ), ('colour', 'shape'), ('size', 'shape'), ('size', 'colour', 'shape'))
OTHER_SUBSETS = (('colour', ), ('size', ), ('size', 'colour'))
ATTR_SUBSETS = SHAPE_SUBSETS + OTHER_SUBSETS


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: an independent stream per triple."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def image_id_of(split: str, index: int) -> int:
    """COCO image id of image ``index`` of ``split`` (train: 1, 2, ...; val: 1000001, ...)."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    image_id = index + 1 + (VAL_IMAGE_ID_OFFSET if split == 'val' else 0)
    if split == 'train' and image_id >= VAL_IMAGE_ID_OFFSET:
        raise ValueError(f'at most {VAL_IMAGE_ID_OFFSET - 1} train images, got index {index}')
    if image_id * SEGMENTS_PER_IMAGE + SEGMENTS_PER_IMAGE - 1 > MAX_SEGMENT_ID:
        raise ValueError(f'{split} index {index}: segment ids would exceed the PNG range 2^24')
    return image_id


# ---------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------
@dataclass
class Thing:
    """One drawn shape.

    Attributes:
        shape, colour, size: its class and the words describing it.
        center: (x, y) of the full shape, px.
        radius: equal-area radius, px.
        angle: rotation, radians.
        full_mask: (H, W) bool, the whole shape.
        mask: (H, W) bool, its visible part (the full mask minus later things).
    """
    shape: str
    colour: str
    size: str
    center: Tuple[float, float]
    radius: float
    angle: float
    full_mask: np.ndarray
    mask: np.ndarray = field(repr=False, default=None)

    def attrs(self) -> Dict[str, str]:
        return dict(shape=self.shape, colour=self.colour, size=self.size)


@dataclass
class Scene:
    """A rendered scene.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        things: painter's order, later ones on top; ``mask`` holds each visible part.
        stuff: (class name, (H, W) bool visible mask) of each stuff region with visible pixels,
            in :data:`STUFF_CLASSES` order.
    """
    image: np.ndarray
    things: List[Thing]
    stuff: List[Tuple[str, np.ndarray]]


def shape_polygon(shape: str, center: Tuple[float, float], radius: float,
                  angle: float) -> np.ndarray:
    """Vertices (N, 2) float (x, y) of a polygonal shape of equal-area radius ``radius``."""
    if shape == 'square':
        # side s with s^2 = pi r^2
        half = radius * math.sqrt(math.pi) / 2
        base = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    elif shape == 'triangle':
        # equilateral, circumradius R with (3 sqrt(3) / 4) R^2 = pi r^2
        big = radius * math.sqrt(math.pi / (3 * math.sqrt(3) / 4))
        t = -math.pi / 2 + np.arange(3) * 2 * math.pi / 3
        base = big * np.stack([np.cos(t), np.sin(t)], 1)
    elif shape == 'star':
        # five points, inner radius half the outer: area 5 R (R / 2) sin(36 deg) = pi r^2
        big = radius * math.sqrt(math.pi / (2.5 * math.sin(math.pi / 5)))
        t = -math.pi / 2 + np.arange(10) * math.pi / 5
        rho = np.where(np.arange(10) % 2 == 0, big, big / 2)
        base = np.stack([rho * np.cos(t), rho * np.sin(t)], 1)
    else:
        raise ValueError(f'no polygon for shape {shape!r}')
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return base @ rot.T + np.asarray(center, dtype=np.float64)


def shape_extent(shape: str, radius: float) -> float:
    """Distance from the centre to the farthest point of the shape, px (any rotation)."""
    if shape == 'circle':
        return radius
    return float(np.linalg.norm(shape_polygon(shape, (0.0, 0.0), radius, 0.0), axis=1).max())


def rasterize(shape: str, center: Tuple[float, float], radius: float, angle: float,
              hw: Tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of a shape, drawn at 1/16 px precision."""
    mask = np.zeros(hw, np.uint8)
    shift = 4
    if shape == 'circle':
        cv2.circle(mask, (round(center[0] * 16), round(center[1] * 16)), round(radius * 16), 1,
                   -1, cv2.LINE_8, shift)
    else:
        pts = np.round(shape_polygon(shape, center, radius, angle) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, shift)
    return mask.astype(bool)


def _draw_attributes(rng: np.random.Generator, things: List[Thing]) -> Tuple[str, str, str]:
    """Attributes of the next thing: random, or (with :data:`RELATED_PROB`) the shape of an
    earlier thing and its twin, another colour or another size, so that shape alone often does
    not identify a thing and colour, size or position words are needed."""
    if things and rng.random() < RELATED_PROB:
        ref = things[int(rng.integers(len(things)))]
        mode = rng.choice(['twin', 'colour', 'size'], p=[0.2, 0.45, 0.35])
        colour, size = ref.colour, ref.size
        if mode == 'colour':
            colour = str(rng.choice([c for c in COLOURS if c != ref.colour]))
        elif mode == 'size':
            size = SIZES[1 - SIZES.index(ref.size)]
        return ref.shape, colour, size
    return (str(rng.choice(THING_CLASSES)), str(rng.choice(list(COLOURS))),
            str(rng.choice(SIZES)))


_TOUCH_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # 2-px clearance


def sample_things(rng: np.random.Generator, size: int = BASE_SIZE) -> List[Thing]:
    """2-5 things with full and visible masks, painter's order.

    Each new thing is placed at random (fully inside the canvas) and redrawn, up to
    :data:`PLACEMENT_TRIES` times, while it would leave an earlier thing less than
    :data:`MIN_VISIBLE_FRACTION` of its area or :data:`MIN_VISIBLE_AREA` px, or would touch (within
    2 px) a thing of its colour; a thing that cannot be placed is left out.
    """
    scale = size / BASE_SIZE
    min_area = MIN_VISIBLE_AREA * scale**2
    things: List[Thing] = []
    for _ in range(int(rng.integers(NUM_THINGS[0], NUM_THINGS[1] + 1))):
        for _ in range(PLACEMENT_TRIES):
            shape, colour, size_word = _draw_attributes(rng, things)
            radius = float(rng.uniform(*RADII[size_word])) * scale
            # squares stay roughly upright, triangles and stars take any rotation
            angle = float(rng.uniform(-0.4, 0.4) if shape == 'square' else
                          rng.uniform(0, 2 * math.pi))
            ext = shape_extent(shape, radius) + 1
            center = (float(rng.uniform(ext, size - ext)), float(rng.uniform(ext, size - ext)))
            full = rasterize(shape, center, radius, angle, (size, size))
            visible = [t.mask & ~full for t in things]
            if not all(v.sum() >= max(MIN_VISIBLE_FRACTION * t.full_mask.sum(), min_area)
                       for v, t in zip(visible, things)):
                continue
            # Same-coloured things must not touch: their common border would be invisible.
            same = [t for t in things if t.colour == colour]
            if same:
                near = cv2.dilate(full.astype(np.uint8), _TOUCH_KERNEL).astype(bool)
                if any((t.mask & near).any() for t in same):
                    continue
            for t, v in zip(things, visible):
                t.mask = v
            things.append(Thing(shape, colour, size_word, center, radius, angle, full, full))
            break
    return things


def sample_stuff_layout(rng: np.random.Generator,
                        size: int = BASE_SIZE) -> Tuple[List[str], np.ndarray]:
    """1-3 stuff regions: (their class names, (H, W) int map of region indices).

    The regions are bands cut by 0-2 roughly parallel boundaries, horizontal or vertical, each
    straight or a sine curve (offset + slope + amplitude sin).
    """
    num = int(rng.integers(1, 4))
    names = [STUFF_CLASSES[i] for i in rng.permutation(len(STUFF_CLASSES))[:num]]
    scale = size / BASE_SIZE
    t = np.arange(size, dtype=np.float64)
    coord = np.arange(size, dtype=np.float64)[:, None]
    offsets = {1: [], 2: [rng.uniform(0.3, 0.7)],
               3: [rng.uniform(0.2, 0.38), rng.uniform(0.62, 0.8)]}[num]
    labels = np.zeros((size, size), np.int64)
    for off in offsets:
        amp = 0.0 if rng.random() < 0.5 else float(rng.uniform(2, 8)) * scale
        cut = (off * size + rng.uniform(-0.2, 0.2) * (t - size / 2) +
               amp * np.sin(2 * math.pi * rng.uniform(0.5, 2.0) * t / size +
                            rng.uniform(0, 2 * math.pi)))
        labels += coord > cut[None, :]  # rows beyond the boundary (a horizontal cut)
    if rng.random() < 0.4:
        labels = labels.T.copy()  # vertical cuts
    return names, labels


def _value_noise(rng: np.random.Generator, hw: Tuple[int, int],
                 cells: Tuple[int, int]) -> np.ndarray:
    """(H, W) float32 smooth noise, about unit variance: a random grid upsampled bicubically."""
    grid = rng.standard_normal((cells[0] + 1, cells[1] + 1)).astype(np.float32)
    return cv2.resize(grid, (hw[1], hw[0]), interpolation=cv2.INTER_CUBIC)


# Per-pixel noise of each stuff texture (grain), added by render_scene from one shared field.
STUFF_GRAIN = dict(sky=0.0, grass=6.0, wall=4.0)
THING_GRAIN = 4.0
IMAGE_NOISE = 2.5


def stuff_texture(name: str, rng: np.random.Generator, size: int = BASE_SIZE) -> np.ndarray:
    """(H, W, 3) float32 RGB texture of a stuff class over the whole canvas, without its grain
    (:data:`STUFF_GRAIN`)."""
    hw = (size, size)
    scale = size / BASE_SIZE
    jitter = rng.uniform(-8, 8, 3).astype(np.float32)
    if name == 'sky':  # vertical gradient, pale blue to near white
        top = np.array([150, 185, 225], np.float32) + jitter
        bottom = np.array([205, 220, 235], np.float32) + jitter
        w = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        tex = top * (1 - w) + bottom * w + 3 * _value_noise(rng, hw, (3, 3))[..., None]
    elif name == 'grass':  # dark olive with vertical blades and blotches
        base = np.array([70, 105, 45], np.float32) + jitter
        streaks = _value_noise(rng, hw, (max(size // 24, 2), max(size // 3, 2)))
        blobs = _value_noise(rng, hw, (4, 4))
        tex = base + (10 * streaks + 8 * blobs)[..., None] * np.array([0.6, 1, 0.5], np.float32)
    elif name == 'wall':  # grey-beige bricks in a running bond, darker mortar
        brick = np.array([170, 155, 135], np.float32) + jitter
        mortar = np.array([105, 100, 95], np.float32) + jitter / 2
        bh = max(int(round(8 * scale)), 3)
        bw = 2 * bh
        oy, ox = int(rng.integers(bh)), int(rng.integers(bw))
        ys = np.arange(size)[:, None]
        xs = np.arange(size)[None, :]
        row = (ys + oy) // bh  # (H, 1)
        xs_row = xs + ox + (row % 2) * (bw // 2)  # (H, W)
        col = xs_row // bw
        tints = rng.uniform(-14, 14, (int(row.max()) + 1, int(col.max()) + 1)).astype(np.float32)
        tex = brick + tints[row, col][..., None]
        line = max(int(round(scale)), 1)
        tex[((ys + oy) % bh < line) | (xs_row % bw < line)] = mortar
    else:
        raise ValueError(f'no texture for stuff class {name!r}')
    return tex


def render_scene(rng: np.random.Generator, size: int = BASE_SIZE) -> Scene:
    """Sample and draw one scene (stuff, then things in painter's order, then mild noise/blur)."""
    names, labels = sample_stuff_layout(rng, size)
    image = np.zeros((size, size, 3), np.float32)
    grain = np.full((size, size), IMAGE_NOISE, np.float32)
    for k, name in enumerate(names):
        region = labels == k
        np.copyto(image, stuff_texture(name, rng, size), where=region[..., None])
        grain[region] += STUFF_GRAIN[name]
    things = sample_things(rng, size)
    for t in things:
        colour = np.array(COLOURS[t.colour], np.float32) + rng.uniform(-12, 12, 3)
        np.copyto(image, colour.astype(np.float32), where=t.full_mask[..., None])
        grain[t.full_mask] = IMAGE_NOISE + THING_GRAIN
    image += grain[..., None] * rng.standard_normal(image.shape, dtype=np.float32)
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (3, 3), 0.6)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    covered = np.zeros((size, size), bool)
    for t in things:
        covered |= t.mask
    stuff = []
    for name in STUFF_CLASSES:  # one segment per class, as COCO panoptic
        if name in names:
            m = (labels == names.index(name)) & ~covered
            if m.any():
                stuff.append((name, m))
    return Scene(image=image, things=things, stuff=stuff)


# ---------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """What an expression says about its target(s).

    Attributes:
        shape, colour, size: required attribute values (None: any).
        extreme: ``'left'``, ``'right'``, ``'top'``, ``'bottom'``: the most extreme of the matches.
        relation: ``'left'``, ``'right'``, ``'above'``, ``'below'``: the matches on that side of
            ``landmark``.
        landmark: attribute-only query that identifies the landmark thing.
    """
    shape: Optional[str] = None
    colour: Optional[str] = None
    size: Optional[str] = None
    extreme: Optional[str] = None
    relation: Optional[str] = None
    landmark: Optional['Query'] = None

    @property
    def spatial(self) -> bool:
        return self.extreme is not None or self.relation is not None


@dataclass
class ThingFeatures:
    """What the language sees of a thing: its words and the centroid of its visible part."""
    shape: str
    colour: str
    size: str
    cx: float
    cy: float


def thing_features(things: Sequence[Thing]) -> List[ThingFeatures]:
    feats = []
    for t in things:
        ys, xs = np.nonzero(t.mask)
        feats.append(ThingFeatures(t.shape, t.colour, t.size, float(xs.mean()), float(ys.mean())))
    return feats


def _matches(f: ThingFeatures, q: Query) -> bool:
    return ((q.shape is None or f.shape == q.shape) and (q.colour is None or f.colour == q.colour)
            and (q.size is None or f.size == q.size))


def resolve(q: Query, feats: Sequence[ThingFeatures],
            margin: float = SPATIAL_MARGIN) -> Optional[List[int]]:
    """Indices of the things ``q`` refers to, or None when its spatial part is unclear.

    Spatial words are used only with clearance: the extreme thing must beat the runner-up by
    ``margin`` px along the axis; a related thing must be ``margin`` px beyond the landmark's
    centroid on that side, mostly along the axis (more than across it), and every other match must
    be on the other side (or level). The landmark must be one thing, not among the results.
    """
    cands = [i for i, f in enumerate(feats) if _matches(f, q)]
    if q.extreme is not None:
        if len(cands) < 2:
            return cands
        key = {'left': lambda f: f.cx, 'right': lambda f: -f.cx,
               'top': lambda f: f.cy, 'bottom': lambda f: -f.cy}[q.extreme]
        order = sorted(cands, key=lambda i: key(feats[i]))
        if key(feats[order[1]]) - key(feats[order[0]]) < margin:
            return None
        return [order[0]]
    if q.relation is not None:
        marks = resolve(q.landmark, feats, margin)
        if marks is None or len(marks) != 1:
            return None
        mark = feats[marks[0]]
        out = []
        for i in cands:
            if i == marks[0]:
                continue
            f = feats[i]
            dx, dy = f.cx - mark.cx, f.cy - mark.cy
            along, across = {'left': (-dx, dy), 'right': (dx, dy), 'above': (-dy, dx),
                             'below': (dy, dx)}[q.relation]
            if along >= margin and along > abs(across):
                out.append(i)
            elif along > 0:
                return None  # on that side but not clearly: unclear
        return out
    return cands


def _attr_query(f: ThingFeatures, subset: Sequence[str]) -> Query:
    return Query(**{a: getattr(f, a) for a in subset})


def _noun_phrases(q: Query, plural: bool = False) -> List[str]:
    """Every noun phrase of an attribute query: '[size] [colour] shape', or with 'object' /
    'shape' as the noun when the query names no shape."""
    nouns = [q.shape] if q.shape else ['object', 'shape']
    adjs = [w for w in (q.size, q.colour) if w]
    return [' '.join(adjs + [n + ('s' if plural else '')]) for n in nouns]


_EXTREME_TEMPLATES = {
    'left': ('the leftmost {np}', 'the {np} on the left', 'the {np} furthest to the left'),
    'right': ('the rightmost {np}', 'the {np} on the right', 'the {np} furthest to the right'),
    'top': ('the topmost {np}', 'the {np} at the top', 'the highest {np}'),
    'bottom': ('the bottommost {np}', 'the {np} at the bottom', 'the lowest {np}'),
}
_RELATION_TEMPLATES = {
    'left': ('the {np} left of the {lm}', 'the {np} to the left of the {lm}'),
    'right': ('the {np} right of the {lm}', 'the {np} to the right of the {lm}'),
    'above': ('the {np} above the {lm}', 'the {np} over the {lm}'),
    'below': ('the {np} below the {lm}', 'the {np} under the {lm}'),
}
_SINGLE_TEMPLATES = ('the {np}', '{np}', 'the {np} in the image')
_GROUP_TEMPLATES = ('all {pl}', 'the {pl}', 'every {sg}', 'all the {pl}')


def query_wordings(q: Query) -> List[str]:
    """Every wording of a single-target query."""
    if q.extreme is not None:
        return [t.format(np=n) for t in _EXTREME_TEMPLATES[q.extreme] for n in _noun_phrases(q)]
    if q.relation is not None:
        return [t.format(np=n, lm=lm) for t in _RELATION_TEMPLATES[q.relation]
                for n in _noun_phrases(q) for lm in _noun_phrases(q.landmark)]
    return [t.format(np=n) for t in _SINGLE_TEMPLATES for n in _noun_phrases(q)]


def group_wordings(q: Query, plural: bool) -> List[str]:
    """Every wording of an attribute query meant for all its matches (gRES): plural ('all red
    circles', 'every red circle', ...) or singular ('the red circle', 'red circle')."""
    if not plural:
        return [t.format(np=n) for t in _SINGLE_TEMPLATES[:2] for n in _noun_phrases(q)]
    return [t.format(pl=pl, sg=sg) for t in _GROUP_TEMPLATES
            for pl, sg in zip(_noun_phrases(q, True), _noun_phrases(q))]


def _distinct_sentences(queries: List[Query], wordings: List[List[str]], n: int,
                        rng: np.random.Generator) -> Tuple[List[str], List[Query]]:
    """Up to ``n`` distinct sentences: one wording (drawn at random) of each query in turn,
    cycling through the queries while they have unused wordings."""
    texts: List[str] = []
    used: List[Query] = []
    remaining = [list(w) for w in wordings]
    k = 0
    while len(texts) < n and any(remaining):
        i = k % len(queries)
        k += 1
        free = [w for w in remaining[i] if w not in texts]
        remaining[i] = free
        if not free:
            continue
        text = free[int(rng.integers(len(free)))]
        texts.append(text)
        used.append(queries[i])
    return texts, used


@dataclass
class ReferringExpression:
    """Sentences that each identify thing ``target`` (an index into the scene's things).

    ``queries[0]`` is the canonical one: attribute-only with the fewest words when that
    identifies the target, else spatial. ``needs_more_than_shape``: "the <shape>" is ambiguous;
    ``needs_spatial``: no attribute-only description is unique.
    """
    target: int
    sentences: List[str]
    queries: List[Query]
    needs_more_than_shape: bool
    needs_spatial: bool


def referring_expressions(feats: Sequence[ThingFeatures], rng: np.random.Generator,
                          margin: float = SPATIAL_MARGIN) -> List[ReferringExpression]:
    """2-3 sentences for every thing that some expression identifies (all, unless two identical
    things sit too close together), each checked with :func:`resolve`."""
    out = []
    # each thing's attribute-only matches, and its shortest description as a landmark
    matches = [{s: resolve(_attr_query(f, s), feats, margin) for s in ATTR_SUBSETS}
               for f in feats]
    landmarks = {}
    for m, g in enumerate(feats):
        unique = [s for s in SHAPE_SUBSETS if matches[m][s] == [m]]
        if unique:
            landmarks[m] = _attr_query(g, unique[0])
    for t, f in enumerate(feats):
        attr_valid = [_attr_query(f, s) for s in ATTR_SUBSETS if matches[t][s] == [t]]
        spatial_valid = []
        for subset in ATTR_SUBSETS:
            if len(matches[t][subset]) < 2:
                continue  # spatial words only where the attributes leave a choice
            base = _attr_query(f, subset)
            for d in EXTREMES:
                q = replace(base, extreme=d)
                if resolve(q, feats, margin) == [t]:
                    spatial_valid.append(q)
            for m, landmark in landmarks.items():
                if m == t:
                    continue
                for r in RELATIONS:
                    q = replace(base, relation=r, landmark=landmark)
                    if resolve(q, feats, margin) == [t]:
                        spatial_valid.append(q)
        if not attr_valid and not spatial_valid:
            continue
        pool = attr_valid or spatial_valid
        # canonical: the first preferred subset that works, ties between equal-length subsets
        # (colour + shape vs size + shape) broken at random
        best_rank = min(_canonical_rank(q) for q in pool)
        best = [q for q in pool if _canonical_rank(q) == best_rank]
        canonical = best[int(rng.integers(len(best)))]
        # other wordings: other attribute descriptions first (often over-specified, as people
        # say them), a spatial one in front with SPATIAL_ALTERNATIVE_PROB
        attr_others = [q for q in attr_valid if q != canonical]
        spatial_others = [q for q in spatial_valid if q != canonical]
        rng.shuffle(attr_others)
        rng.shuffle(spatial_others)
        others = attr_others + spatial_others
        if spatial_others and not canonical.spatial and rng.random() < SPATIAL_ALTERNATIVE_PROB:
            others.remove(spatial_others[0])
            others.insert(0, spatial_others[0])
        n = int(rng.integers(2, 4))
        chosen = [canonical] + others[:n - 1]
        sentences, queries = _distinct_sentences(chosen, [query_wordings(q) for q in chosen], n,
                                                 rng)
        out.append(ReferringExpression(
            target=t, sentences=sentences, queries=queries,
            needs_more_than_shape=Query(shape=f.shape) not in attr_valid,
            needs_spatial=not attr_valid))
    return out


def _canonical_rank(q: Query) -> Tuple[int, int, int]:
    """Preference of a query as canonical (smaller first): no spatial words, then the shape as
    noun, then fewer adjectives."""
    n_attrs = sum(v is not None for v in (q.colour, q.size))
    return (int(q.spatial), 0 if q.shape else 1, n_attrs)


@dataclass
class GroupExpression:
    """gRES: sentences that all refer to the things ``targets`` (empty: no target)."""
    targets: List[int]
    sentences: List[str]
    kind: str  # 'multi', 'single' or 'none'


def _group_queries(feats: Sequence[ThingFeatures]) -> Dict[Query, List[int]]:
    groups: Dict[Query, List[int]] = {Query(): list(range(len(feats)))}
    for f in feats:
        for subset in ATTR_SUBSETS:
            q = _attr_query(f, subset)
            if q not in groups:
                groups[q] = resolve(q, feats)
    return groups


def _absent_queries(feats: Sequence[ThingFeatures]) -> Tuple[List[Query], List[Query]]:
    """Attribute queries no thing matches: (hard: every value is in the image, only the
    combination is not, e.g. 'the yellow star' beside a yellow circle and a blue star; easy: a
    colour or shape absent from the image)."""
    present = {a: {getattr(f, a) for f in feats} for a in ('shape', 'colour', 'size')}
    values = dict(shape=THING_CLASSES, colour=tuple(COLOURS), size=SIZES)
    hard, easy = [], []
    for subset in ATTR_SUBSETS:
        seen = {tuple(getattr(f, a) for a in subset) for f in feats}
        combos = [()]
        for a in subset:
            combos = [c + (v, ) for c in combos for v in values[a]]
        for c in combos:
            if c in seen:
                continue
            q = Query(**dict(zip(subset, c)))
            (hard if all(v in present[a] for a, v in zip(subset, c)) else easy).append(q)
    return hard, easy


def gres_expressions(feats: Sequence[ThingFeatures], refs: Sequence[ReferringExpression],
                     rng: np.random.Generator) -> List[GroupExpression]:
    """Per image: 1-2 multi-target expressions (distinct target sets, when the image has any),
    one single-target expression and, with :data:`NO_TARGET_PROB`, one no-target expression;
    two wordings each."""
    groups = _group_queries(feats)
    out = []
    multi: Dict[Tuple[int, ...], List[Query]] = {}
    for q, members in groups.items():
        if len(members) >= 2:
            multi.setdefault(tuple(members), []).append(q)
    keys = list(multi)
    rng.shuffle(keys)
    for key in keys[:int(rng.integers(1, 3))]:
        qs = multi[key]  # every query with these members: 'all circles' = 'all red objects'
        sentences, _ = _distinct_sentences(qs, [group_wordings(q, True) for q in qs], 2, rng)
        out.append(GroupExpression(list(key), sentences, 'multi'))
    singles = [q for q, members in groups.items() if len(members) == 1 and q != Query()]
    if refs and (not singles or rng.random() < 0.5):
        ref = refs[int(rng.integers(len(refs)))]
        out.append(GroupExpression([ref.target], ref.sentences[:2], 'single'))
    elif singles:
        q = singles[int(rng.integers(len(singles)))]
        same = [s for s in singles if groups[s] == groups[q]]
        sentences, _ = _distinct_sentences(same, [group_wordings(s, False) for s in same], 2, rng)
        out.append(GroupExpression(groups[q], sentences, 'single'))
    if rng.random() < NO_TARGET_PROB:
        hard, easy = _absent_queries(feats)
        pool = hard if hard and (not easy or rng.random() < 0.5) else easy
        if pool:
            q = pool[int(rng.integers(len(pool)))]
            singular, plural = group_wordings(q, False), group_wordings(q, True)
            sentences = [singular[int(rng.integers(len(singular)))],
                         plural[int(rng.integers(len(plural)))]]
            out.append(GroupExpression([], sentences, 'none'))
    return out


def instruct_questions(feats: Sequence[ThingFeatures],
                       rng: np.random.Generator) -> List[Tuple[str, str]]:
    """2-3 (question, answer) pairs about the things: counts (of a shape, a colour, all),
    the colour / shape / size of a thing named uniquely, and whether a colour-shape pair exists
    (yes and no equally often)."""
    askable = []
    shape = str(rng.choice(THING_CLASSES))
    askable.append((f'How many {shape}s are there?',
                    str(sum(f.shape == shape for f in feats))))
    colour = str(rng.choice(list(COLOURS)))
    askable.append((f'How many {colour} objects are there?',
                    str(sum(f.colour == colour for f in feats))))
    askable.append(('How many objects are there?', str(len(feats))))
    f = feats[int(rng.integers(len(feats)))]
    if sum(g.shape == f.shape for g in feats) == 1:
        askable.append((f'What colour is the {f.shape}?', f.colour))
        askable.append((f'Is the {f.shape} small or large?', f.size))
    if sum(g.colour == f.colour for g in feats) == 1:
        askable.append((f'What shape is the {f.colour} object?', f.shape))
    if rng.random() < 0.5:
        g = feats[int(rng.integers(len(feats)))]
        askable.append((f'Is there a {g.colour} {g.shape}?', 'yes'))
    else:
        hard, easy = _absent_queries(feats)
        absent = [q for q in hard + easy if q.shape and q.colour and not q.size]
        if absent:
            q = absent[int(rng.integers(len(absent)))]
            askable.append((f'Is there a {q.colour} {q.shape}?', 'no'))
    order = rng.permutation(len(askable))[:int(rng.integers(2, 4))]
    return [askable[i] for i in sorted(order)]


# ---------------------------------------------------------------------------------------------
# One sample in COCO terms
# ---------------------------------------------------------------------------------------------
def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> COCO compressed RLE with str counts (what the json files hold)."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def mask_bbox_xywh(mask: np.ndarray) -> List[float]:
    """Tight pixel box [x, y, w, h] of a non-empty mask (COCO convention)."""
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]


def _words_used(q: Query) -> List[str]:
    return [w for w, used in (('colour', q.colour is not None), ('size', q.size is not None),
                              ('spatial', q.spatial)) if used]


def generate_sample(seed: int, split: str, index: int, size: int = BASE_SIZE) -> dict:
    """Everything of image ``index`` of ``split``.

    Returns:
        dict with
        ``image``: (H, W, 3) uint8 RGB;
        ``panoptic``: (H, W) int64 segment ids (every pixel belongs to a segment);
        ``image_info``: COCO image (``id``, ``file_name`` ``<split>_<index:06d>.jpg``, ``height``,
        ``width``);
        ``segments_info``: COCO panoptic segments (things in painter's order, then stuff);
        ``annotations``: COCO instances of the things (RLE, box, area, ``attributes``);
        ``refs``: ``{'ann_id', 'category_id', 'sentences', 'needs_more_than_shape',
        'needs_spatial', 'spatial', 'canonical_uses'}`` (``spatial``: per sentence, whether it
        uses spatial words; ``canonical_uses``: which of colour, size, spatial words the first,
        shortest sentence uses);
        ``grefs``: ``{'ann_ids', 'category_ids', 'sentences', 'kind'}``;
        ``questions``: [(question, answer)] (empty for most images).
    """
    if size < 64:
        raise ValueError(f'size must be >= 64 px, got {size}')
    rng = sample_rng(seed, split, index)
    image_id = image_id_of(split, index)
    scene = render_scene(rng, size)
    feats = thing_features(scene.things)
    refs = referring_expressions(feats, rng, SPATIAL_MARGIN * size / BASE_SIZE)
    grefs = gres_expressions(feats, refs, rng)
    questions = instruct_questions(feats, rng) if rng.random() < QUESTION_IMAGE_PROB else []

    categories = THING_CLASSES + STUFF_CLASSES
    panoptic = np.zeros((size, size), np.int64)
    segments, annotations, ann_ids = [], [], []
    segs = [(t.shape, t.mask, t) for t in scene.things] + [(n, m, None) for n, m in scene.stuff]
    for k, (name, mask, thing) in enumerate(segs, 1):
        seg_id = image_id * SEGMENTS_PER_IMAGE + k
        panoptic[mask] = seg_id
        category_id = categories.index(name) + 1
        area, bbox = int(mask.sum()), mask_bbox_xywh(mask)
        segments.append(dict(id=seg_id, category_id=category_id, iscrowd=0, area=area,
                             bbox=bbox))
        if thing is not None:
            ann_ids.append(seg_id)
            annotations.append(dict(
                id=seg_id, image_id=image_id, category_id=category_id,
                segmentation=encode_rle(mask), area=float(area), bbox=bbox, iscrowd=0,
                attributes=dict(colour=thing.colour, size=thing.size)))
    if (panoptic == 0).any():
        raise AssertionError('internal: the panoptic segments do not cover the image')
    return dict(
        image=scene.image,
        panoptic=panoptic,
        image_info=dict(id=image_id, file_name=f'{split}_{index:06d}.jpg', height=size,
                        width=size),
        segments_info=segments,
        annotations=annotations,
        refs=[dict(ann_id=ann_ids[r.target],
                   category_id=THING_CLASSES.index(feats[r.target].shape) + 1,
                   sentences=r.sentences, needs_more_than_shape=r.needs_more_than_shape,
                   needs_spatial=r.needs_spatial, spatial=[q.spatial for q in r.queries],
                   canonical_uses=_words_used(r.queries[0]))
              for r in refs],
        grefs=[dict(ann_ids=[ann_ids[i] for i in g.targets],
                    category_ids=[THING_CLASSES.index(feats[i].shape) + 1 for i in g.targets],
                    sentences=g.sentences, kind=g.kind) for g in grefs],
        questions=questions)
