"""Shared pieces of the checkpoint converters: key-renaming rules, the Mask2Former
(reference / detectron2) -> mmdet renames, the check against a model built from a config, and
all-or-nothing output."""
import contextlib
import os
import os.path as osp
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

Replacement = Union[str, Callable[[re.Match], str]]


class ConversionError(RuntimeError):
    """The source checkpoint does not convert completely; nothing was written."""


@dataclass
class RenameRule:
    """``pattern`` (a full-match regex on a source key) -> ``replacement`` (``re`` template or
    a function of the match)."""
    pattern: str
    replacement: Replacement

    def __post_init__(self) -> None:
        self._regex = re.compile(self.pattern)

    def apply(self, key: str) -> Optional[str]:
        m = self._regex.fullmatch(key)
        if m is None:
            return None
        return self.replacement(m) if callable(self.replacement) else m.expand(self.replacement)


@dataclass
class Renamed:
    """Outcome of renaming a set of source keys."""
    mapping: Dict[str, str] = field(default_factory=dict)  # source key -> target key
    unmatched: List[str] = field(default_factory=list)


def rename_keys(keys: Sequence[str], rules: Sequence[RenameRule], src_prefix: str = '',
                dst_prefix: str = '') -> Renamed:
    """Rename every key under ``src_prefix`` with the first matching rule."""
    out = Renamed()
    for key in keys:
        if not key.startswith(src_prefix):
            continue
        rel = key[len(src_prefix):]
        for rule in rules:
            new = rule.apply(rel)
            if new is not None:
                out.mapping[key] = dst_prefix + new
                break
        else:
            out.unmatched.append(key)
    return out


# --------------------------------------------------------------------------- Mask2Former parts
def pixel_decoder_rules() -> List[RenameRule]:
    """Reference ``MSDeformAttnPixelDecoder`` -> mmdet ``MSDeformAttnPixelDecoder`` (relative keys).

    Both order the encoder levels from low to high resolution (res5, res4, res3), so
    ``input_proj.{k}`` is ``input_convs.{k}`` and ``level_embed[k]`` is ``level_encoding[k]``.
    The reference's encoder layer is attn -> norm1 -> FFN -> norm2, mmdet's is attn -> norms[0]
    -> FFN -> norms[1]. ``adapter_{j}`` / ``layer_{j}`` belong to input level j-1 (res2 for
    j=1), which is the index mmdet's forward uses for ``lateral_convs`` / ``output_convs``.
    """
    fpn_index = lambda m: str(int(m.group(2)) - 1)  # noqa: E731
    sub = {'0': 'conv', '1': 'gn'}
    return [
        RenameRule(r'input_proj\.(\d+)\.0\.(weight|bias)', r'input_convs.\1.conv.\2'),
        RenameRule(r'input_proj\.(\d+)\.1\.(weight|bias)', r'input_convs.\1.gn.\2'),
        RenameRule(r'transformer\.level_embed', 'level_encoding.weight'),
        RenameRule(
            r'transformer\.encoder\.layers\.(\d+)\.self_attn\.'
            r'(sampling_offsets|attention_weights|value_proj|output_proj)\.(weight|bias)',
            r'encoder.layers.\1.self_attn.\2.\3'),
        RenameRule(r'transformer\.encoder\.layers\.(\d+)\.norm1\.(weight|bias)',
                   r'encoder.layers.\1.norms.0.\2'),
        RenameRule(r'transformer\.encoder\.layers\.(\d+)\.linear1\.(weight|bias)',
                   r'encoder.layers.\1.ffn.layers.0.0.\2'),
        RenameRule(r'transformer\.encoder\.layers\.(\d+)\.linear2\.(weight|bias)',
                   r'encoder.layers.\1.ffn.layers.1.\2'),
        RenameRule(r'transformer\.encoder\.layers\.(\d+)\.norm2\.(weight|bias)',
                   r'encoder.layers.\1.norms.1.\2'),
        RenameRule(r'mask_features\.(weight|bias)', r'mask_feature.\1'),
        RenameRule(r'(adapter)_(\d+)\.([01])\.(weight|bias)',
                   lambda m: f'lateral_convs.{fpn_index(m)}.{sub[m.group(3)]}.{m.group(4)}'),
        RenameRule(r'(layer)_(\d+)\.([01])\.(weight|bias)',
                   lambda m: f'output_convs.{fpn_index(m)}.{sub[m.group(3)]}.{m.group(4)}'),
    ]


def transformer_decoder_rules(with_psalm_heads: bool) -> List[RenameRule]:
    """Reference ``MultiScaleMaskedTransformerDecoder`` -> keys under ``mask_generator.``.

    Both layers run cross-attention -> self-attention -> FFN, each followed by its norm, so
    the reference's per-kind norms become mmdet's ``norms.0`` (cross), ``norms.1`` (self) and
    ``norms.2`` (FFN). ``decoder_norm`` is the norm before every prediction head, mmdet's
    ``post_norm``.
    """
    rules = [
        RenameRule(r'transformer_cross_attention_layers\.(\d+)\.multihead_attn\.'
                   r'(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)',
                   r'transformer_decoder.layers.\1.cross_attn.attn.\2'),
        RenameRule(r'transformer_cross_attention_layers\.(\d+)\.norm\.(weight|bias)',
                   r'transformer_decoder.layers.\1.norms.0.\2'),
        RenameRule(r'transformer_self_attention_layers\.(\d+)\.self_attn\.'
                   r'(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)',
                   r'transformer_decoder.layers.\1.self_attn.attn.\2'),
        RenameRule(r'transformer_self_attention_layers\.(\d+)\.norm\.(weight|bias)',
                   r'transformer_decoder.layers.\1.norms.1.\2'),
        RenameRule(r'transformer_ffn_layers\.(\d+)\.linear1\.(weight|bias)',
                   r'transformer_decoder.layers.\1.ffn.layers.0.0.\2'),
        RenameRule(r'transformer_ffn_layers\.(\d+)\.linear2\.(weight|bias)',
                   r'transformer_decoder.layers.\1.ffn.layers.1.\2'),
        RenameRule(r'transformer_ffn_layers\.(\d+)\.norm\.(weight|bias)',
                   r'transformer_decoder.layers.\1.norms.2.\2'),
        RenameRule(r'decoder_norm\.(weight|bias)', r'transformer_decoder.post_norm.\1'),
        RenameRule(r'query_embed\.weight', 'query_embed.weight'),
        RenameRule(r'level_embed\.weight', 'level_embed.weight'),
        RenameRule(r'mask_embed\.layers\.(\d+)\.(weight|bias)', r'mask_embed.layers.\1.\2'),
    ]
    if with_psalm_heads:
        # Query-side MLPs of PSALM's three classifiers.
        rules += [
            RenameRule(r'CLASS_proj\.layers\.(\d+)\.(weight|bias)',
                       r'score_mlps.category.layers.\1.\2'),
            RenameRule(r'SEG_proj\.layers\.(\d+)\.(weight|bias)',
                       r'score_mlps.sentence.layers.\1.\2'),
            RenameRule(r'REGION_proj\.layers\.(\d+)\.(weight|bias)',
                       r'score_mlps.visual_prior.layers.\1.\2'),
        ]
    return rules


def convert_swin(weights: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Official-layout Swin (Microsoft / Mask2Former / PSALM ``swin_trans.py``) -> mmdet's
    ``SwinTransformer`` under ``backbone.``.

    Uses mmdet's own ``swin_converter``: besides the renames (``patch_embed.proj`` ->
    ``projection``, ``layers`` -> ``stages``, ``attn`` -> ``attn.w_msa``, ``mlp.fc1/fc2`` ->
    ``ffn.layers.0.0/1``) it permutes ``downsample.reduction`` / ``downsample.norm``: the
    official PatchMerging concatenates the 2x2 neighbours as (0,0), (1,0), (0,1), (1,1) along
    channels, mmdet's ``nn.Unfold`` gives channel-major (0,0), (0,1), (1,0), (1,1).
    ``relative_position_index`` is copied; it equals mmdet's own buffer.
    """
    from mmdet.models.backbones.swin import swin_converter
    return dict(swin_converter({k: v for k, v in weights.items()}))


# ----------------------------------------------------------------------- checks against a model
@dataclass
class ModelCheck:
    """Keys and shapes of a converted state dict against a model built from a config."""
    missing: List[str]
    unexpected: List[str]
    shape_mismatch: List[str]
    model_keys: List[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def describe(self, limit: int = 30) -> str:
        parts = []
        for name in ('missing', 'unexpected', 'shape_mismatch'):
            keys = getattr(self, name)
            if keys:
                more = f' ... (+{len(keys) - limit})' if len(keys) > limit else ''
                parts.append(f'{name} ({len(keys)}): ' + ', '.join(keys[:limit]) + more)
        return '; '.join(parts) or 'ok'


def model_shapes(model_cfg) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of the state dict of a model built (without allocating weights) from
    ``model_cfg``."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import psalm  # noqa: F401  (registers the PSALM modules)
    from psalm.utils import empty_weights
    register_all_modules()
    with empty_weights():
        model = MODELS.build(model_cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_against(state_dict: Dict[str, Tensor], shapes: Dict[str, Tuple[int, ...]],
                  required_prefixes: Optional[Sequence[str]] = None) -> ModelCheck:
    """Compare ``state_dict`` with a model's ``shapes``.

    Args:
        required_prefixes: only model keys under these prefixes must be provided (``None``:
            all of them, i.e. strict loading).
    """
    required = [k for k in shapes
                if required_prefixes is None or k.startswith(tuple(required_prefixes))]
    missing = sorted(k for k in required if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in shapes)
    mismatch = sorted(f'{k}: {tuple(v.shape)} vs model {shapes[k]}'
                      for k, v in state_dict.items()
                      if k in shapes and tuple(v.shape) != shapes[k])
    return ModelCheck(missing, unexpected, mismatch, list(shapes))


# ----------------------------------------------------------------------------- atomic outputs
@contextlib.contextmanager
def staged_output_dir(out_dir: str, overwrite: bool = False) -> Iterator[str]:
    """A temporary sibling of ``out_dir`` that becomes ``out_dir`` only if the block succeeds.

    On any exception the temporary directory is removed and ``out_dir`` is left untouched, so
    a failed conversion never leaves a half-written output.
    """
    out_dir = osp.abspath(out_dir)
    if osp.exists(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ConversionError(f'{out_dir} exists and is not empty (use overwrite to replace it)')
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out_dir)}.tmp-', dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if osp.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def atomic_torch_save(obj: object, path: str) -> None:
    """``torch.save`` to a temporary file in the same directory, then rename."""
    path = osp.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.tmp-', dir=osp.dirname(path))
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
