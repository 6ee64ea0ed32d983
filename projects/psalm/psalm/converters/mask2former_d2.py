"""detectron2 Mask2Former checkpoint (``model_final_54b88a.pkl``, Swin-B IN21k 384, COCO
panoptic) -> initial weights of PSALM's backbone, pixel decoder and transformer decoder.

This is what the reference's ``--vision_tower`` does before stage-2 training (its
``initial_mask_module``, reference section 5.3), in this project's names:

- ``backbone.*`` (official Swin layout) -> ``backbone.*`` (mmdet Swin; PatchMerging permuted);
- ``sem_seg_head.pixel_decoder.*`` -> ``mask_generator.pixel_decoder.*``, where detectron2's
  ``adapter_1.weight`` / ``adapter_1.norm.*`` (and ``layer_1``) are first renamed to the
  reference's ``adapter_1.0.*`` / ``adapter_1.1.*`` as the reference does;
- ``sem_seg_head.predictor.*`` -> ``mask_generator.*``, ``query_embed`` cut to the model's
  number of queries (200 -> 100, first rows, as the reference);
- not used: ``class_embed`` (closed-vocabulary classifier) and ``query_feat`` /
  ``static_query`` (content queries come from the LLM), anything outside these modules.

Biases of ``adapter_1`` / ``layer_1``: detectron2's convs before a GroupNorm have no bias, the
reference's (and ours with ``fpn_conv_bias=True``) have one. The reference loads with
``strict=False`` and keeps the bias of its initialisation, ``c2_xavier_fill``, which is 0; we
write that zero explicitly, so the converted weights compute exactly detectron2's convolution
whatever our own init does. The ReLU after ``adapter_1`` is a structural change of the
reference that no weight can undo; stage-2 training starts from it, as in the reference.

Not initialised (listed in the output's ``meta``): the LLM, the projector, the mask tokens and
projections of the prompt encoder, and the classifier MLPs ``score_mlps``.
"""
import os.path as osp
import pickle
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import numpy as np
import torch
from torch import Tensor

from ._common import (ConversionError, atomic_torch_save, check_against, convert_swin,
                      model_shapes, pixel_decoder_rules, rename_keys, transformer_decoder_rules)

PIXEL_DECODER_SRC = 'sem_seg_head.pixel_decoder.'
PREDICTOR_SRC = 'sem_seg_head.predictor.'
BACKBONE_SRC = 'backbone.'
# Model keys this checkpoint must initialise completely.
INITIALISED_PREFIXES = ('backbone.', 'mask_generator.pixel_decoder.',
                        'mask_generator.transformer_decoder.', 'mask_generator.query_embed.',
                        'mask_generator.level_embed.', 'mask_generator.mask_embed.')
IGNORED_PREDICTOR_KEYS = {
    'class_embed.weight': 'closed-vocabulary classifier; PSALM scores masks with condition '
                          'embeddings',
    'class_embed.bias': 'closed-vocabulary classifier; PSALM scores masks with condition '
                        'embeddings',
    'query_feat.weight': 'learned content queries; PSALM takes them from the LLM mask tokens',
    'static_query.weight': 'learned content queries (older name of query_feat); PSALM takes '
                           'them from the LLM mask tokens',
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts / lists / strings / numbers and numpy arrays, nothing else.

    A ``.pkl`` from the internet could otherwise run arbitrary code when loaded.
    """

    def find_class(self, module: str, name: str):
        core = getattr(np, '_core', None) or np.core
        allowed = {
            ('numpy', 'ndarray'): np.ndarray,
            ('numpy', 'dtype'): np.dtype,
            ('collections', 'OrderedDict'): __import__('collections').OrderedDict,
            # protocol-2 pickles store bytes as _codecs.encode(str, 'latin1').
            ('_codecs', 'encode'): __import__('codecs').encode,
        }
        # numpy 1.x pickles name `numpy.core`, numpy 2.x `numpy._core`.
        for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            allowed[(mod, '_reconstruct')] = core.multiarray._reconstruct
            allowed[(mod, 'scalar')] = core.multiarray.scalar
        if module == 'numpy.dtypes' and name.endswith('DType'):
            dtype_cls = getattr(np.dtypes, name, None)
            if dtype_cls is not None and issubclass(dtype_cls, np.dtype):
                return dtype_cls
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f'refusing to load {module}.{name} from a checkpoint pickle '
                                     '(only numpy arrays are allowed)')


def load_d2_pickle(path: str) -> Dict[str, Tensor]:
    """The ``model`` dict of a detectron2 ``.pkl`` as torch tensors (restricted unpickling)."""
    with open(path, 'rb') as f:
        # latin1: how numpy arrays pickled by Python 2 (older detectron2 files) are read back.
        data = _NumpyOnlyUnpickler(f, encoding='latin1').load()
    if not isinstance(data, dict) or not isinstance(data.get('model'), dict):
        raise ConversionError(f'{path} is not a detectron2 checkpoint ({{"model": {{...}}}})')
    out = {}
    for key, value in data['model'].items():
        if not isinstance(value, np.ndarray):
            raise ConversionError(f'{key} is a {type(value).__name__}, expected a numpy array')
        out[key] = torch.from_numpy(np.ascontiguousarray(value))
    return out


def _to_sequential_fpn_names(key: str) -> str:
    """detectron2 ``Conv2d(norm=GN)`` names -> the reference's ``nn.Sequential`` names, as the
    reference's ``initial_mask_module`` renames them: ``adapter_1.weight`` ->
    ``adapter_1.0.weight``, ``adapter_1.norm.*`` -> ``adapter_1.1.*`` (same for ``layer_1``)."""
    m = re.fullmatch(r'(adapter_\d+|layer_\d+)\.(weight|bias)', key)
    if m:
        return f'{m.group(1)}.0.{m.group(2)}'
    m = re.fullmatch(r'(adapter_\d+|layer_\d+)\.norm\.(weight|bias)', key)
    if m:
        return f'{m.group(1)}.1.{m.group(2)}'
    return key


@dataclass
class ConvertedD2:
    """Result of :func:`convert_d2_state_dict`."""
    state_dict: Dict[str, Tensor]
    ignored: Dict[str, str] = field(default_factory=dict)  # source key -> why
    unexpected: List[str] = field(default_factory=list)  # source keys that should have mapped
    notes: List[str] = field(default_factory=list)


def convert_d2_state_dict(src: Dict[str, Tensor], num_queries: int) -> ConvertedD2:
    """Rename a detectron2 Mask2Former state dict into this project's names.

    Args:
        num_queries: the model's number of queries; a longer ``query_embed`` keeps its first
            rows, as the reference does (200 -> 100).
    """
    out = ConvertedD2(state_dict={})
    swin = {k[len(BACKBONE_SRC):]: v for k, v in src.items() if k.startswith(BACKBONE_SRC)}
    out.state_dict.update(convert_swin(swin))

    pd = {_to_sequential_fpn_names(k[len(PIXEL_DECODER_SRC):]): k for k in src
          if k.startswith(PIXEL_DECODER_SRC)}
    renamed = rename_keys(list(pd), pixel_decoder_rules(), '', 'mask_generator.pixel_decoder.')
    for rel, dst in renamed.mapping.items():
        out.state_dict[dst] = src[pd[rel]]
    out.unexpected += [pd[rel] for rel in renamed.unmatched]

    pred = [k[len(PREDICTOR_SRC):] for k in src if k.startswith(PREDICTOR_SRC)]
    for rel in pred:
        if rel in IGNORED_PREDICTOR_KEYS:
            out.ignored[PREDICTOR_SRC + rel] = IGNORED_PREDICTOR_KEYS[rel]
    renamed = rename_keys([k for k in pred if k not in IGNORED_PREDICTOR_KEYS],
                          transformer_decoder_rules(with_psalm_heads=False), '', 'mask_generator.')
    for rel, dst in renamed.mapping.items():
        out.state_dict[dst] = src[PREDICTOR_SRC + rel]
    out.unexpected += [PREDICTOR_SRC + rel for rel in renamed.unmatched]

    query_embed = out.state_dict.get('mask_generator.query_embed.weight')
    if query_embed is not None and query_embed.shape[0] > num_queries:
        out.state_dict['mask_generator.query_embed.weight'] = query_embed[:num_queries].clone()
        out.notes.append(f'query_embed cut from {query_embed.shape[0]} to {num_queries} rows '
                         '(first rows, as the reference)')
    for key in src:
        if not key.startswith((BACKBONE_SRC, PIXEL_DECODER_SRC, PREDICTOR_SRC)):
            out.ignored[key] = 'outside the backbone, pixel decoder and transformer decoder'
    out.unexpected.sort()
    return out


def convert_checkpoint(pkl_path: str, out_path: str, config: str, overwrite: bool = False,
                       logger: Callable[[str], None] = print) -> dict:
    """Convert ``pkl_path`` into ``out_path`` (``{'state_dict', 'meta'}``) for the model of
    ``config``.

    The output initialises every parameter and buffer of the backbone, the pixel decoder and the
    transformer decoder (plus ``query_embed``, ``level_embed``, ``mask_embed``) with the right
    shape, or nothing is written. Load it with ``strict=False`` semantics: ``load_from`` or
    ``model.init_cfg=dict(type='Pretrained', checkpoint=...)``; ``meta['initialised']`` and
    ``meta['not_initialised']`` say what it covers.

    Raises:
        ConversionError: unknown source keys, missing or misshaped targets; nothing is written.
    """
    from mmengine.config import Config
    if osp.exists(out_path) and not overwrite:
        raise ConversionError(f'{out_path} exists (use overwrite to replace it)')
    cfg = Config.fromfile(config)
    shapes = model_shapes(cfg.model)
    num_queries = shapes['mask_generator.query_embed.weight'][0]
    src = load_d2_pickle(pkl_path)
    logger(f'read {len(src)} arrays from {pkl_path}')
    converted = convert_d2_state_dict(src, num_queries)
    if converted.unexpected:
        raise ConversionError(f'{len(converted.unexpected)} source keys of the initialised '
                              f'modules have no target: {converted.unexpected}')
    sd = converted.state_dict
    zero_filled = []
    # detectron2's FPN convs have no bias (GroupNorm follows); ours may. Zero = the reference.
    for key, shape in shapes.items():
        if (key.startswith('mask_generator.pixel_decoder.')
                and key.endswith('.conv.bias') and key not in sd
                and key[:-len('bias')] + 'weight' in sd
                and ('.lateral_convs.' in key or '.output_convs.' in key)):
            sd[key] = torch.zeros(shape, dtype=sd[key[:-len('bias')] + 'weight'].dtype)
            zero_filled.append(key)
    check = check_against(sd, shapes, required_prefixes=INITIALISED_PREFIXES)
    if not check.ok:
        raise ConversionError(f'the checkpoint does not initialise the model of {config}: '
                              f'{check.describe()}')
    meta = dict(
        converter='mask2former_d2_to_mmdet', source=osp.abspath(pkl_path),
        config=osp.abspath(config),
        initialised=sorted(sd), not_initialised=sorted(k for k in shapes if k not in sd),
        zero_filled=sorted(zero_filled),
        ignored_source_keys=dict(sorted(converted.ignored.items())),
        notes=converted.notes)
    atomic_torch_save(dict(state_dict=sd, meta=meta), out_path)
    logger(f'wrote {out_path}: {len(sd)} tensors initialise {", ".join(INITIALISED_PREFIXES)}; '
           f'{len(meta["not_initialised"])} model tensors are left to their own init')
    return meta
