"""Joint training: single-task batches, task ratios, determinism per rank."""
from collections import Counter

import pytest
from mmengine.dataset import BaseDataset, ConcatDataset, InfiniteSampler

from psalm.datasets import JointTaskDataset, TaskRatioBatchSampler


class _Toy(BaseDataset):
    def __init__(self, n, task):
        self.n, self.task_name = n, task
        super().__init__(serialize_data=False, lazy_init=False)

    def load_data_list(self):
        return [dict(task=self.task_name, i=i) for i in range(self.n)]


def _joint():
    referring = ConcatDataset([_Toy(3, 'referring'), _Toy(4, 'referring')])  # a nested concat
    return JointTaskDataset([_Toy(50, 'panoptic'), referring, _Toy(300, 'interactive'),
                             _Toy(20, 'conversation')],
                            tasks=['panoptic', 'referring', 'interactive', 'conversation'])


def _task_of(ds, idx):
    return ds[idx]['task']


@pytest.mark.parametrize('ratios', [None, (2, 1, 1, 0)])
def test_ratios_and_single_task_batches(ratios):
    ds = _joint()
    sampler = TaskRatioBatchSampler(InfiniteSampler(ds, seed=0), batch_size=4, ratios=ratios,
                                    seed=0)
    counts = Counter()
    it = iter(sampler)
    for _ in range(1000):
        batch = next(it)
        assert len(batch) == 4
        tasks = {_task_of(ds, i) for i in batch}
        assert len(tasks) == 1, f'mixed batch {batch}'
        counts[tasks.pop()] += 1
    expected = [1, 1, 1, 1] if ratios is None else list(ratios)
    for task, r in zip(ds.tasks, expected):
        assert abs(counts[task] / 1000 - r / sum(expected)) < 0.04, counts


def test_visits_every_sample_of_a_small_task_and_is_deterministic():
    ds = _joint()
    sampler = TaskRatioBatchSampler(InfiniteSampler(ds, seed=0), batch_size=4, seed=3)
    start, end = ds.task_ranges[1]
    first = [b for _, b in zip(range(200), iter(sampler))]
    seen = {i for b in first for i in b if start <= i < end}
    assert seen == set(range(start, end))
    again = [b for _, b in zip(range(200), iter(sampler))]
    assert first == again  # same (seed, rank) -> same stream, so a resumed run continues it
    other = TaskRatioBatchSampler(InfiniteSampler(ds, seed=0), batch_size=4, seed=4)
    assert [b for _, b in zip(range(200), iter(other))] != first


def test_ratio_milestones_switch_the_mix_at_their_batch():
    ds = _joint()
    sampler = TaskRatioBatchSampler(InfiniteSampler(ds, seed=0), batch_size=4, ratios=[1, 0, 0, 0],
                                    ratio_milestones=[(30, [0, 1, 0, 0]), (50, [0, 0, 1, 1])],
                                    seed=0)
    tasks = [_task_of(ds, b[0]) for _, b in zip(range(400), iter(sampler))]
    assert set(tasks[:30]) == {'panoptic'}
    assert set(tasks[30:50]) == {'referring'}
    late = Counter(tasks[50:])
    assert set(late) == {'interactive', 'conversation'}
    assert abs(late['interactive'] / 350 - 0.5) < 0.1, late
    # the schedule counts batches from the start, so the stream is still a function of the seed
    assert tasks == [_task_of(ds, b[0]) for _, b in zip(range(400), iter(sampler))]


def test_bad_configuration():
    ds = _joint()
    with pytest.raises(ValueError, match='ratios'):
        TaskRatioBatchSampler(InfiniteSampler(ds), batch_size=2, ratios=[1, 1])
    with pytest.raises(ValueError, match=r'ratio_milestones\[1\]: batch 5 must be an integer'):
        TaskRatioBatchSampler(InfiniteSampler(ds), batch_size=2,
                              ratio_milestones=[(10, [1, 1, 1, 1]), (5, [1, 1, 1, 1])])
    with pytest.raises(ValueError, match=r'ratio_milestones\[0\] ratios'):
        TaskRatioBatchSampler(InfiniteSampler(ds), batch_size=2, ratio_milestones=[(10, [1, 1])])
    with pytest.raises(ValueError, match='pair'):
        TaskRatioBatchSampler(InfiniteSampler(ds), batch_size=2, ratio_milestones=[(10,)])
    with pytest.raises(TypeError, match='JointTaskDataset'):
        TaskRatioBatchSampler(InfiniteSampler(_Toy(5, 'x')), batch_size=2)
    with pytest.raises(ValueError, match='task names'):
        JointTaskDataset([_Toy(2, 'a')], tasks=['a', 'b'])
