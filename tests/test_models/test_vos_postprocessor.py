"""VOSPostProcessor: one mask per tracked object, no query shared by two objects (reference
eval_davis.py), hand-checked on 4 queries and 3 objects."""
import pytest
import torch

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample

from psalm.models.postprocessors import InteractivePostProcessor, VOSPostProcessor


def _logits():
    # Query q covers column q of a 4 x 4 image with logit 5 (mask quality sigmoid(5) everywhere).
    logits = torch.full((4, 4, 4), -5.0)
    for q in range(4):
        logits[q, :, q] = 5.0
    return logits


def _run(post, scores):
    sample = DetDataSample()
    post(_logits(), torch.tensor(scores), sample)
    return sample.pred_instances


def test_distinct_queries_in_object_order():
    # Objects 0 and 1 both prefer query 0; object 2 prefers query 0, then 1.
    scores = [[4.0, 3.0, 5.0], [0.0, 2.0, 4.0], [1.0, 1.0, -3.0], [-4.0, -4.0, -4.0]]
    out = _run(VOSPostProcessor(top_k=10), scores)
    assert out.labels.tolist() == [0, 1, 2]
    # object 0 -> query 0, object 1 -> its next best (query 1), object 2 -> query 2 (0, 1 taken)
    assert [int(m[:, :].float().sum(0).argmax()) for m in out.masks] == [0, 1, 2]
    quality = torch.sigmoid(torch.tensor(5.0))
    expected = torch.sigmoid(torch.tensor([4.0, 2.0, -3.0])) * quality
    assert torch.allclose(out.scores, expected, atol=1e-5)
    # The interactive post-processor lets objects share query 0.
    shared = _run(InteractivePostProcessor(), scores)
    assert [int(m.float().sum(0).argmax()) for m in shared.masks] == [0, 0, 0]


def test_all_top_k_taken_falls_back_to_the_best_query():
    scores = [[4.0, 3.0], [0.0, 2.0], [-1.0, -1.0], [-2.0, -2.0]]
    out = _run(VOSPostProcessor(top_k=1), scores)  # object 1's only candidate is taken
    assert [int(m.float().sum(0).argmax()) for m in out.masks] == [0, 0]
    assert TASK_UTILS.get('VOSPostProcessor') is VOSPostProcessor
    with pytest.raises(ValueError, match='top_k'):
        VOSPostProcessor(top_k=0)
