"""Start one condition path of PSALM from another's weights at a given iteration."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS

# The condition projection of each kind in the prompt encoder (the score MLPs use the kind's name).
_PROJECTIONS = dict(category='category_proj', sentence='sentence_proj', visual_prior='region_proj')


@HOOKS.register_module()
class ConditionPathInitHook(Hook):
    """Copy the ``src`` path (condition projection + query score MLP) onto ``dst`` at ``at_iter``.

    A curriculum whose first phase trains only panoptic batches leaves the sentence path at its
    random init while the category path learns which queries hold which shape. Copying it at the
    phase switch starts the sentence scorer from a classifier that already tells the shapes apart.

    Args:
        src: kind whose weights are copied (``category``, ``sentence`` or ``visual_prior``).
        dst: kind that receives them.
        at_iter: the iteration before which the copy happens (the joint phase's first).
    """

    def __init__(self, src: str = 'category', dst: str = 'sentence', at_iter: int = 0) -> None:
        for name, kind in (('src', src), ('dst', dst)):
            if kind not in _PROJECTIONS:
                raise ValueError(f'ConditionPathInitHook: {name}={kind!r} is not one of '
                                 f'{sorted(_PROJECTIONS)}')
        if src == dst:
            raise ValueError(f'ConditionPathInitHook: src and dst are both {src!r}')
        self.src, self.dst, self.at_iter = src, dst, at_iter

    @torch.no_grad()
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter != self.at_iter:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        encoder, generator = model.prompt_encoder, model.mask_generator
        pairs = [
            (getattr(encoder, _PROJECTIONS[self.src]), getattr(encoder, _PROJECTIONS[self.dst])),
            (generator.score_mlps[self.src], generator.score_mlps[self.dst]),
        ]
        for src, dst in pairs:
            for p_dst, p_src in zip(dst.parameters(), src.parameters()):
                p_dst.copy_(p_src)
        runner.logger.info(f'ConditionPathInitHook: {self.dst} path copied from {self.src} at '
                           f'iteration {runner.iter}')
