from .visual_prompt import (POINT_RADIUS, PROMPT_TYPES, SCRIBBLE_RADIUS, box_to_mask,
                            point_to_mask, scribble_to_mask)

__all__ = ['POINT_RADIUS', 'SCRIBBLE_RADIUS', 'PROMPT_TYPES', 'point_to_mask',
           'scribble_to_mask', 'box_to_mask']
