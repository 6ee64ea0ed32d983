"""Single-task batches drawn with configurable task ratios, for joint training."""
import itertools
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import BatchSampler, Sampler

from mmdet.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class TaskRatioBatchSampler(BatchSampler):
    """Every batch holds samples of one task; the task is drawn with probabilities ``ratios``.

    Each rank draws its own batches from its own random stream (seeded with the shared seed and
    the rank), so ranks train on different tasks in the same step while the ratios hold over the
    run. Within a task, samples are visited in a reshuffled order, epoch after epoch, as an
    infinite sampler would. The stream depends only on (seed, rank), so a resumed run that skips
    the batches already trained (MMEngine's iteration-based loop does) continues it exactly.

    The dataset must be a :class:`~psalm.datasets.JointTaskDataset`; the ``sampler`` argument
    (built by MMEngine from ``train_dataloader.sampler``) only provides it.

    Args:
        sampler: MMEngine's sampler over the joint dataset (e.g. ``InfiniteSampler``).
        batch_size: samples per batch (per rank).
        ratios: relative frequency of each task, in the dataset's task order (default: equal).
        ratio_milestones: ``(batch, ratios)`` pairs, ``batch`` increasing: from that batch (per
            rank, counted from the start of training) on, draw with these ratios instead. A
            curriculum, e.g. ``ratios=[1, 0, 0, 0]`` (panoptic only) with
            ``ratio_milestones=[(600, [2, 2, 2, 1])]`` (then joint).
        drop_last: unused (batches are always full), kept for MMEngine's builder.
        seed: random seed; None = a seed shared by all ranks.
    """

    def __init__(self, sampler: Sampler, batch_size: int, ratios: Optional[Sequence[float]] = None,
                 ratio_milestones: Sequence[Tuple[int, Sequence[float]]] = (),
                 drop_last: bool = True, seed: Optional[int] = None) -> None:
        dataset = getattr(sampler, 'dataset', None)
        if not hasattr(dataset, 'task_ranges'):
            raise TypeError('TaskRatioBatchSampler needs train_dataloader.dataset to be a '
                            f'JointTaskDataset, got {type(dataset).__name__}')
        if batch_size <= 0:
            raise ValueError(f'batch_size must be positive, got {batch_size}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = True
        self.ranges = dataset.task_ranges
        self.tasks = list(dataset.tasks)
        ratios = [1.0] * len(self.ranges) if ratios is None else ratios
        # (first batch, task probabilities), first batch increasing from 0
        self.schedule = [(0, self._probs(ratios, 'ratios'))]
        for i, milestone in enumerate(ratio_milestones):
            if len(milestone) != 2:
                raise ValueError(f'ratio_milestones[{i}] must be a (batch, ratios) pair, '
                                 f'got {milestone}')
            start, milestone_ratios = milestone
            if int(start) != start or start <= self.schedule[-1][0]:
                raise ValueError(f'ratio_milestones[{i}]: batch {start} must be an integer greater '
                                 f'than {self.schedule[-1][0]} (milestones in increasing order)')
            self.schedule.append(
                (int(start), self._probs(milestone_ratios, f'ratio_milestones[{i}] ratios')))
        self.rank, _ = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed

    def _probs(self, ratios: Sequence[float], name: str) -> np.ndarray:
        ratios = [float(r) for r in ratios]
        if len(ratios) != len(self.ranges) or min(ratios) < 0 or sum(ratios) <= 0:
            raise ValueError(f'{name} {ratios} must be {len(self.ranges)} non-negative numbers '
                             f'(tasks {self.tasks}) with a positive sum')
        return np.asarray(ratios) / sum(ratios)

    def __iter__(self) -> Iterator[List[int]]:
        # Separate streams: the task sequence depends only on (seed, rank, ratio schedule), not on
        # the dataset sizes that drive the reshuffles.
        task_rng = np.random.default_rng([self.seed, self.rank, 0])
        rng = np.random.default_rng([self.seed, self.rank, 1])
        orders = [None] * len(self.ranges)
        cursors = [0] * len(self.ranges)
        stage, probs = 0, self.schedule[0][1]
        for index in itertools.count():
            if stage + 1 < len(self.schedule) and index >= self.schedule[stage + 1][0]:
                stage += 1
                probs = self.schedule[stage][1]
            t = int(task_rng.choice(len(self.ranges), p=probs))
            start, end = self.ranges[t]
            batch = []
            while len(batch) < self.batch_size:
                if orders[t] is None or cursors[t] >= len(orders[t]):
                    orders[t] = rng.permutation(end - start) + start
                    cursors[t] = 0
                take = min(self.batch_size - len(batch), len(orders[t]) - cursors[t])
                batch.extend(int(i) for i in orders[t][cursors[t]:cursors[t] + take])
                cursors[t] += take
            yield batch

    def __len__(self) -> int:
        # Infinite, like InfiniteSampler; MMEngine's iteration-based loop never exhausts it.
        return max(1, len(self.sampler) // self.batch_size)
