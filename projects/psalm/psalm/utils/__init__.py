from .atomic_io import write_bytes_atomic
from .meta_init import empty_weights
from .safe_loading import register_mmengine_safe_globals

__all__ = ['empty_weights', 'register_mmengine_safe_globals', 'write_bytes_atomic']
