"""Joint multi-task training data: the per-task datasets side by side."""
from typing import List, Sequence, Tuple, Union

from mmengine.dataset import ConcatDataset

from mmdet.registry import DATASETS


@DATASETS.register_module()
class JointTaskDataset(ConcatDataset):
    """Concatenates one dataset per task and remembers where each task's samples are, for
    :class:`~psalm.datasets.TaskRatioBatchSampler` (every batch is single-task).

    Args:
        datasets: one dataset (or config) per task; a task made of several datasets (e.g.
            RefCOCO, RefCOCO+ and RefCOCOg) is one ``ConcatDataset``.
        tasks: a name per dataset, used in logs and by the sampler's ratios.
    """

    def __init__(self, datasets: Sequence[Union[dict, object]], tasks: Sequence[str],
                 lazy_init: bool = False) -> None:
        if len(tasks) != len(datasets):
            raise ValueError(f'JointTaskDataset: {len(datasets)} datasets but {len(tasks)} task names')
        if len(set(tasks)) != len(tasks):
            raise ValueError(f'JointTaskDataset: task names must be unique, got {list(tasks)}')
        self.tasks = list(tasks)
        # Not ConcatDataset.__init__: it accepts only BaseDataset members, while a task may
        # itself be a ConcatDataset (RefCOCO + RefCOCO+ + RefCOCOg), and it requires equal
        # metainfo, while each task has its own (class lists...).
        self.datasets = [DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        self.ignore_keys = []
        self._metainfo = self.datasets[0].metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        super().full_init()
        if any(len(d) == 0 for d in self.datasets):
            empty = [t for t, d in zip(self.tasks, self.datasets) if len(d) == 0]
            raise ValueError(f'JointTaskDataset: the datasets of tasks {empty} are empty')

    @property
    def task_ranges(self) -> List[Tuple[int, int]]:
        """[start, end) global index range of each task's samples."""
        self.full_init()
        starts = [0] + list(self.cumulative_sizes[:-1])
        return list(zip(starts, self.cumulative_sizes))
