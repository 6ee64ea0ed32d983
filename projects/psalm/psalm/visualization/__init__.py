"""Drawing PSALM's predictions with their prompts."""
from .local_visualizer import PSALMLocalVisualizer
from .palette import davis_palette, region_palette

__all__ = ['PSALMLocalVisualizer', 'davis_palette', 'region_palette']
