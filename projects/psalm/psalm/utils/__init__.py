from .atomic_io import write_bytes_atomic
from .meta_init import empty_weights
from .safe_loading import register_mmengine_safe_globals
from .scripts import import_script

__all__ = [
    'empty_weights', 'import_script', 'register_mmengine_safe_globals', 'write_bytes_atomic'
]
