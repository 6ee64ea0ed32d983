from .task_ratio_batch_sampler import TaskRatioBatchSampler

__all__ = ['TaskRatioBatchSampler']
