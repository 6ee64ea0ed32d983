from .meta_init import empty_weights
from .safe_loading import register_mmengine_safe_globals

__all__ = ['empty_weights', 'register_mmengine_safe_globals']
