"""PSALM evaluation: metrics registered in mmdet's ``METRICS`` (panoptic PQ uses mmdet's
``CocoPanopticMetric`` as is)."""
from .metrics import (DAVISMetric, GRESMetric, InteractiveSegMetric, OVSemSegMetric,
                      ReferringSegMetric)

__all__ = [
    'ReferringSegMetric', 'InteractiveSegMetric', 'GRESMetric', 'DAVISMetric', 'OVSemSegMetric'
]
