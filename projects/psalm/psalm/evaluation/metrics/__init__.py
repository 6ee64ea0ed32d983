from .davis_metric import DAVISMetric
from .gres_metric import GRESMetric
from .interactive_metric import InteractiveSegMetric
from .label_mapped_coco_metric import LabelMappedCocoMetric
from .referring_metric import ReferringSegMetric
from .semantic_metric import OVSemSegMetric

__all__ = [
    'ReferringSegMetric', 'InteractiveSegMetric', 'GRESMetric', 'DAVISMetric', 'OVSemSegMetric'
]
