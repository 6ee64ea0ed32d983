"""Start one condition path of PSALM from another's weights at a given iteration."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from psalm.models.condition_prompt import CONDITION_TYPES

# The kinds with a condition projection and a query score MLP ('none' scores nothing).
_SCORED_KINDS = tuple(kind for kind in CONDITION_TYPES if kind != 'none')


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
            if kind not in _SCORED_KINDS:
                raise ValueError(f'ConditionPathInitHook: {name}={kind!r} is not one of '
                                 f'{sorted(_SCORED_KINDS)}')
        if src == dst:
            raise ValueError(f'ConditionPathInitHook: src and dst are both {src!r}')
        self.src, self.dst, self.at_iter = src, dst, at_iter

    @torch.no_grad()
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter != self.at_iter:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        encoder, generator = model.prompt_encoder, model.mask_generator
        pairs = [(encoder.condition_proj(self.src), encoder.condition_proj(self.dst)),
                 (generator.score_mlps[self.src], generator.score_mlps[self.dst])]
        for src, dst in pairs:
            for p_dst, p_src in zip(dst.parameters(), src.parameters()):
                p_dst.copy_(p_src)
        runner.logger.info(f'ConditionPathInitHook: {self.dst} path copied from {self.src} at '
                           f'iteration {runner.iter}')
