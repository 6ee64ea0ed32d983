"""The VOS prompt memory shared by ``VOSTestLoop`` and the demo's ``track_video``."""
import numpy as np
import pytest

from psalm.engine.vos_memory import VOSMemory, max_pairwise_iou, next_prompts


def test_max_pairwise_iou():
    a = np.zeros((3, 4, 4), bool)
    a[0, :2], a[1, 1:3], a[2, 3] = True, True, True
    assert max_pairwise_iou(a) == pytest.approx(4 / 12)  # rows 0-1 vs 1-2: 4 / 12
    assert max_pairwise_iou(a[:1]) == 0.0
    assert max_pairwise_iou(np.zeros((2, 4, 4), bool)) == 0.0  # two empty masks: no overlap


def _halves():
    first = np.zeros((2, 10, 10), bool)
    first[0, :5], first[1, 5:] = True, True
    return first


def test_vos_memory_takes_predictions_unless_two_overlap():
    first = _halves()
    memory = VOSMemory(first, iou_thr=0.4)
    good = np.zeros_like(first)
    good[0, :4], good[1, 6:] = True, True
    assert memory.update(good) and np.array_equal(memory.masks, good)
    overlapping = np.zeros_like(first)
    overlapping[0, :6], overlapping[1, 2:] = True, True  # IoU 4/10 = 0.4: accepted
    assert memory.update(overlapping) and np.array_equal(memory.masks, overlapping)
    kept = memory.masks.copy()
    worse = overlapping.copy()
    worse[1, 1:] = True  # IoU 5/10 > 0.4: the last good prompts stay
    assert not memory.update(worse) and np.array_equal(memory.masks, kept)
    assert not memory.update(np.zeros((3, 10, 10), bool))  # another object count
    assert np.array_equal(memory.masks, kept)


def test_a_lost_object_keeps_its_prompt():
    first = _halves()
    pred = np.zeros_like(first)
    pred[1, 7:] = True  # object 0 predicted empty
    prompts, taken = next_prompts(first, pred, 0.4)
    assert taken
    assert np.array_equal(prompts[0], first[0]) and np.array_equal(prompts[1], pred[1])
    assert not pred[0].any()  # the caller's prediction is left as it was
