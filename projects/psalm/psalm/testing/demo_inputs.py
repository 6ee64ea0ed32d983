"""Demo inputs from a real photo shipped with scikit-image (no download): the image, a mask prompt,
and a short "video" (a camera pan over the photo) with its first-frame object masks."""
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np
from PIL import Image

from psalm.visualization.palette import davis_palette

# Hand-placed ellipses on skimage.data.astronaut() (512x512): (cx, cy, half-width, half-height).
FACE = (226, 112, 52, 66)
PATCH = (171, 385, 38, 38)
ROCKET = (410, 140, 34, 125)
PAN_STEP = (8, 4)  # (dx, dy) per video frame
CROP = 448


def _ellipse(shape, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


def make_demo_inputs(out_dir: str, num_frames: int = 5) -> Dict[str, str]:
    """Write the demo inputs under ``out_dir``.

    - ``astronaut.png``: ``skimage.data.astronaut()`` (512x512 RGB);
    - ``rocket_mask.png``: a binary mask prompt (an ellipse on the rocket);
    - ``astronaut_pan/00000.jpg ...``: ``num_frames`` 448x448 crops panning right and down;
    - ``astronaut_pan_00000.png``: frame 0's objects as an indexed PNG (DAVIS palette: 1 face,
      2 mission patch, 3 rocket).

    Returns the paths: ``image``, ``mask``, ``frames``, ``first_mask``.
    """
    from skimage import data  # scikit-image ships the photo
    image = data.astronaut()
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(image=osp.join(out_dir, 'astronaut.png'),
                 mask=osp.join(out_dir, 'rocket_mask.png'),
                 frames=osp.join(out_dir, 'astronaut_pan'),
                 first_mask=osp.join(out_dir, 'astronaut_pan_00000.png'))
    Image.fromarray(image).save(paths['image'])
    rocket = _ellipse(image.shape[:2], *ROCKET)
    Image.fromarray(rocket.astype(np.uint8) * 255).save(paths['mask'])

    os.makedirs(paths['frames'], exist_ok=True)
    for t in range(num_frames):
        x0, y0 = t * PAN_STEP[0], t * PAN_STEP[1]
        if x0 + CROP > image.shape[1] or y0 + CROP > image.shape[0]:
            raise ValueError(f'num_frames={num_frames} pans past the photo')
        crop = image[y0:y0 + CROP, x0:x0 + CROP]
        Image.fromarray(crop).save(osp.join(paths['frames'], f'{t:05d}.jpg'), quality=90)
    index = np.zeros((CROP, CROP), np.uint8)
    for object_id, ellipse in ((1, FACE), (2, PATCH), (3, ROCKET)):
        index[_ellipse(index.shape, *ellipse)] = object_id
    first = Image.fromarray(index)
    first.putpalette(davis_palette().ravel().tolist())  # mode L -> P: an indexed PNG
    first.save(paths['first_mask'])
    return paths
