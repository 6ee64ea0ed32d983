from .davis_metric import DAVISMetric
from .gres_metric import GRESMetric
from .interactive_metric import InteractiveSegMetric
from .referring_metric import ReferringSegMetric
from .semantic_metric import OVSemSegMetric

__all__ = [
    'ReferringSegMetric', 'InteractiveSegMetric', 'GRESMetric', 'DAVISMetric', 'OVSemSegMetric'
]
