"""Colours shared by the drawings and the indexed PNGs of video results."""
import io
from typing import List, Tuple

import numpy as np
from PIL import Image


def davis_palette(num_colors: int = 256) -> np.ndarray:
    """(num_colors, 3) uint8 RGB: the DAVIS / Pascal VOC label colour map (1 red, 2 green, ...)."""
    palette = np.zeros((num_colors, 3), np.uint8)
    for i in range(num_colors):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):  # the bits of the index spread over the high bits of r, g, b
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


def region_palette(num: int) -> List[Tuple[int, int, int]]:
    """``num`` distinct RGB colours for regions / video objects: the DAVIS map from index 1, so
    region k has the colour of object id k + 1 in an indexed PNG."""
    return [tuple(int(v) for v in c) for c in davis_palette(num + 1)[1:]]


def encode_indexed_png(index_map: np.ndarray) -> bytes:
    """(H, W) uint8 object ids -> PNG bytes with the DAVIS palette (mode ``P``: the pixel values
    stay the ids, as the DAVIS toolkit reads them)."""
    img = Image.fromarray(index_map.astype(np.uint8))
    img.putpalette(davis_palette().ravel().tolist())  # mode L -> P
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return buf.getvalue()
