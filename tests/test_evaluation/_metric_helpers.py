"""Shared helpers of the metric tests: masks from pixel lists, data samples, and three ways of
running a metric (batches of any size through mmengine's Evaluator; two simulated ranks)."""
import pickle
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.structures import InstanceData

from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks

H = W = 4


def mask(pixels: Iterable[Tuple[int, int]], h: int = H, w: int = W) -> np.ndarray:
    """(h, w) bool mask with the given (row, col) pixels set."""
    m = np.zeros((h, w), dtype=bool)
    for r, c in pixels:
        m[r, c] = True
    return m


def rows(*idx: int, h: int = H, w: int = W) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[list(idx), :] = True
    return m


def block(r0: int, r1: int, c0: int, c1: int, h: int = H, w: int = W) -> np.ndarray:
    """Rows r0..r1-1, columns c0..c1-1."""
    m = np.zeros((h, w), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def empty(h: int = H, w: int = W) -> np.ndarray:
    return np.zeros((h, w), dtype=bool)


def sample(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], labels=None,
           pred_no_target=None, h: int = H, w: int = W, **meta) -> DetDataSample:
    """A DetDataSample as the model and the test pipeline leave it: ``pred_instances.masks``
    (bool tensor; ``labels``, ``pred_instances.no_target``) and the metainfo ``gt_masks``
    (BitmapMasks) at ``ori_shape``, plus any other metainfo."""
    s = DetDataSample()
    s.set_metainfo(dict(ori_shape=(h, w), gt_masks=BitmapMasks(
        [g.astype(np.uint8) for g in gts], h, w), **meta))
    inst = InstanceData()
    inst.masks = torch.from_numpy(np.stack(preds)) if len(preds) else \
        torch.zeros((0, h, w), dtype=torch.bool)
    inst.labels = torch.arange(len(preds)) if labels is None else torch.tensor(labels)
    inst.scores = torch.ones(len(preds))
    if pred_no_target is not None:
        inst.no_target = torch.tensor([pred_no_target])
    s.pred_instances = inst
    return s


def evaluate(metric: BaseMetric, samples: Sequence[DetDataSample], batch_size: int,
             dataset_meta: dict = None) -> Dict[str, float]:
    """Run ``metric`` the way the test loop does: Evaluator.process per batch (data samples are
    turned into dicts there), then Evaluator.evaluate (prefixed keys)."""
    evaluator = Evaluator(metric)
    if dataset_meta is not None:
        evaluator.dataset_meta = dataset_meta
    for i in range(0, len(samples), batch_size):
        evaluator.process(data_samples=list(samples[i:i + batch_size]))
    return evaluator.evaluate(len(samples))


def two_rank_results(build: Callable[[], BaseMetric], samples: Sequence[DetDataSample],
                     batch_size: int = 2, dataset_meta: dict = None) -> Tuple[List, List]:
    """Simulate 2 processes: DefaultSampler's shards (indices rank::2, the shorter one padded
    with the first sample), one metric instance per rank, results pickled as collect_results
    does. Returns (results merged as collect_results merges them: interleaved and truncated to
    the dataset size, results simply concatenated rank 0 + rank 1 without the padding)."""
    n = len(samples)
    idx = list(range(n)) + list(range(n % 2))  # round_up padding
    parts, unpadded = [], []
    for rank in range(2):
        positions = list(range(len(idx)))[rank::2]
        metric = build()
        if dataset_meta is not None:
            metric.dataset_meta = dataset_meta
        for i in range(0, len(positions), batch_size):
            metric.process(None, [samples[idx[p]].to_dict() for p in positions[i:i + batch_size]])
        part = pickle.loads(pickle.dumps(metric.results))
        assert len(part) == len(positions), 'one record per sample'
        parts.append(part)
        unpadded.extend(r for r, p in zip(part, positions) if p < n)  # padding sits at p >= n
    interleaved = [r for pair in zip(*parts) for r in pair][:n]
    return interleaved, unpadded


def compute(build: Callable[[], BaseMetric], results: List,
            dataset_meta: dict = None) -> Dict[str, float]:
    metric = build()
    if dataset_meta is not None:
        metric.dataset_meta = dataset_meta
    return metric.compute_metrics(results)


def assert_same(a: Dict[str, float], b: Dict[str, float]) -> None:
    """Identical keys and bit-identical values (NaN equal to NaN)."""
    assert a.keys() == b.keys()
    for k in a:
        va, vb = float(a[k]), float(b[k])
        assert (np.isnan(va) and np.isnan(vb)) or va == vb, (k, va, vb)
