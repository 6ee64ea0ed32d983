"""The released PSALM checkpoint (HF ``EnmingZhang/PSALM`` layout, transformers 4.36 Phi) ->
a checkpoint of this project, its tokenizer and a matching config.

Key mapping (released -> ours):

- ``model.embed_tokens``, ``model.layers.*``, ``model.final_layernorm`` ->
  ``language_model.model.model.*`` (transformers-5 ``PhiModel``); each fused
  ``self_attn.query_key_value`` is split per head into ``q_proj`` / ``k_proj`` / ``v_proj``
  (:func:`split_fused_qkv`); ``lm_head.weight`` -> ``language_model.model.lm_head.weight``;
- ``model.vision_tower.*`` (official Swin layout) -> ``backbone.*`` (mmdet Swin, see
  :func:`~psalm.converters._common.convert_swin`);
- ``model.mm_projector.*`` -> ``projector.*`` (same sub-names);
- ``seg_query`` -> ``prompt_encoder.mask_tokens``; ``seg_query_projector`` /
  ``class_name_projector`` / ``SEG_token_projector`` / ``region_projector`` ->
  ``prompt_encoder.mask_query_proj`` / ``category_proj`` / ``sentence_proj`` / ``region_proj``;
- ``pixel_decoder.*`` -> ``mask_generator.pixel_decoder.*`` (:func:`pixel_decoder_rules`);
- ``predictor.*`` -> ``mask_generator.*`` (:func:`transformer_decoder_rules`), with
  ``CLASS_proj`` / ``SEG_proj`` / ``REGION_proj`` -> ``score_mlps.category`` / ``sentence`` /
  ``visual_prior``;
- dropped: ``predictor.query_feat``, ``predictor.SEG_query_embed`` (:data:`DROPPED_KEYS`).
"""
import copy
import glob
import json
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from ._common import (ConversionError, RenameRule, check_against,
                      convert_swin, model_shapes, pixel_decoder_rules, rename_keys,
                      staged_output_dir, transformer_decoder_rules)

# Source keys that exist in the released state dict but that the released forward never reads.
DROPPED_KEYS: Dict[str, str] = {
    'predictor.query_feat.weight':
        'Mask2Former learnable content queries; PSALM feeds the projected LLM mask tokens '
        'instead (forward_woconcat with seg_query)',
    'predictor.SEG_query_embed.weight':
        'positional queries of the seg_concat=True path (forward_concat); the released model '
        'runs seg_concat=False and uses query_embed',
}
# Derived buffers some transformers versions save; recomputed from config.json (rope_theta,
# partial_rotary_factor) by transformers 5.
DROPPED_PATTERNS: Dict[str, str] = {
    r'model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq':
        'rotary frequencies, recomputed from rope_theta and partial_rotary_factor',
}

LLM_SRC, LLM_DST = 'model.', 'language_model.model.model.'
HEAD_RULES = [
    RenameRule(r'seg_query', 'prompt_encoder.mask_tokens'),
    RenameRule(r'seg_query_projector\.(weight|bias)', r'prompt_encoder.mask_query_proj.\1'),
    RenameRule(r'class_name_projector\.(weight|bias)', r'prompt_encoder.category_proj.\1'),
    RenameRule(r'SEG_token_projector\.(weight|bias)', r'prompt_encoder.sentence_proj.\1'),
    RenameRule(r'region_projector\.(weight|bias)', r'prompt_encoder.region_proj.\1'),
    RenameRule(r'lm_head\.(weight|bias)', r'language_model.model.lm_head.\1'),
]
# transformers-4.36 PhiModel names that transformers 5 keeps (``qk_layernorm`` ones included).
LLM_RULES = [
    RenameRule(r'embed_tokens\.weight', 'embed_tokens.weight'),
    RenameRule(r'final_layernorm\.(weight|bias)', r'final_layernorm.\1'),
    RenameRule(r'layers\.(\d+)\.(self_attn\.dense|self_attn\.q_layernorm|self_attn\.k_layernorm|'
               r'mlp\.fc1|mlp\.fc2|input_layernorm)\.(weight|bias)', r'layers.\1.\2.\3'),
]
QKV_RULE = RenameRule(r'layers\.(\d+)\.self_attn\.query_key_value\.(weight|bias)',
                      r'layers.\1.self_attn.{}_proj.\2')


class _SourceTensors:
    """Lazy access to the tensors of an HF checkpoint directory (safetensors or ``.bin``)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir
        self._where: Dict[str, str] = {}
        self._bins: Dict[str, Dict[str, Tensor]] = {}
        st_index = osp.join(src_dir, 'model.safetensors.index.json')
        bin_index = osp.join(src_dir, 'pytorch_model.bin.index.json')
        if osp.isfile(st_index) or osp.isfile(bin_index):
            index = st_index if osp.isfile(st_index) else bin_index
            with open(index) as f:
                weight_map = json.load(f)['weight_map']
            self._where = {k: osp.join(src_dir, v) for k, v in weight_map.items()}
        else:
            files = sorted(glob.glob(osp.join(src_dir, '*.safetensors')))
            files = files or sorted(glob.glob(osp.join(src_dir, 'pytorch_model*.bin')))
            if not files:
                raise ConversionError(f'no model.safetensors(.index.json) or pytorch_model*.bin '
                                      f'in {src_dir}')
            for path in files:
                for key in self._keys_of(path):
                    self._where[key] = path
        missing_files = sorted({p for p in self._where.values() if not osp.isfile(p)})
        if missing_files:
            raise ConversionError(f'shards listed in the index are missing: {missing_files}')
        self.files = sorted({osp.basename(p) for p in self._where.values()})

    def _keys_of(self, path: str) -> List[str]:
        if path.endswith('.safetensors'):
            from safetensors import safe_open
            with safe_open(path, framework='pt') as f:
                return list(f.keys())
        return list(self._load_bin(path))

    def _load_bin(self, path: str) -> Dict[str, Tensor]:
        if path not in self._bins:
            # weights_only: a downloaded .bin must not run code when unpickled.
            self._bins[path] = torch.load(path, map_location='cpu', weights_only=True)
        return self._bins[path]

    def keys(self) -> List[str]:
        return list(self._where)

    def load_all(self) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        by_file: Dict[str, List[str]] = {}
        for key, path in self._where.items():
            by_file.setdefault(path, []).append(key)
        for path, keys in by_file.items():
            if path.endswith('.safetensors'):
                from safetensors import safe_open
                with safe_open(path, framework='pt') as f:
                    for key in keys:
                        out[key] = f.get_tensor(key)
            else:
                tensors = self._load_bin(path)
                for key in keys:
                    if key not in tensors:
                        raise ConversionError(f'{key} is indexed in {path} but not stored there')
                    out[key] = tensors[key]
        self._bins.clear()
        return out


def read_hf_config(src_dir: str) -> dict:
    """``config.json`` of the released checkpoint."""
    path = osp.join(src_dir, 'config.json')
    if not osp.isfile(path):
        raise ConversionError(f'{path} not found')
    with open(path) as f:
        return json.load(f)


def llm_dims(hf_config: dict) -> Dict[str, object]:
    """The Phi dimensions the conversion and the model config need, from ``config.json``."""
    required = ('hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
                'vocab_size')
    absent = [k for k in required if k not in hf_config]
    if absent:
        raise ConversionError(f'config.json lacks {absent}')
    dims = {k: int(hf_config[k]) for k in required}
    if dims['hidden_size'] % dims['num_attention_heads']:
        raise ConversionError('hidden_size is not a multiple of num_attention_heads')
    kv_heads = hf_config.get('num_key_value_heads') or dims['num_attention_heads']
    if kv_heads != dims['num_attention_heads']:
        # 4.36's fused layout has one (q, k, v) triple per head; GQA cannot be stored in it.
        raise ConversionError(f'num_key_value_heads={kv_heads} != num_attention_heads is not '
                              'a transformers-4.36 Phi checkpoint')
    # 4.36 Phi defaults, used when the released config.json omits a field.
    dims.update(
        hidden_act=hf_config.get('hidden_act', 'gelu_new'),
        max_position_embeddings=int(hf_config.get('max_position_embeddings', 2048)),
        partial_rotary_factor=float(hf_config.get('partial_rotary_factor', 0.5)),
        rope_theta=float(hf_config.get('rope_theta', 10000.0)),
        layer_norm_eps=float(hf_config.get('layer_norm_eps', 1e-5)),
        qk_layernorm=bool(hf_config.get('qk_layernorm', False)))
    if hf_config.get('rope_scaling'):
        raise ConversionError(f'rope_scaling={hf_config["rope_scaling"]} is not supported by '
                              'this converter (the released PSALM has none)')
    for key in ('bos_token_id', 'eos_token_id'):
        if hf_config.get(key) is not None:
            dims[key] = int(hf_config[key])
    return dims


def split_fused_qkv(fused: Tensor, num_heads: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Split transformers-4.36 Phi's ``query_key_value`` weight (3*hidden, hidden) or bias
    (3*hidden,) into q, k, v.

    4.36 views the fused output as (..., num_heads, 3, head_dim) and takes index 0/1/2 of the
    ``3`` axis, so the rows are interleaved per head: [q_h0, k_h0, v_h0, q_h1, ...]. A plain
    ``chunk(3)`` would mix heads and still load without error.
    """
    rows = fused.shape[0]
    if rows % (3 * num_heads):
        raise ConversionError(f'query_key_value has {rows} rows, not a multiple of 3*{num_heads}')
    head_dim = rows // (3 * num_heads)
    per_head = fused.reshape(num_heads, 3, head_dim, *fused.shape[1:])
    return tuple(per_head[:, j].reshape(num_heads * head_dim, *fused.shape[1:]).clone()
                 for j in range(3))


@dataclass
class ConvertedState:
    """Result of :func:`convert_state_dict`."""
    state_dict: Dict[str, Tensor]
    dropped: Dict[str, str] = field(default_factory=dict)  # source key -> why
    unexpected: List[str] = field(default_factory=list)  # source keys nothing maps


def convert_state_dict(src: Dict[str, Tensor], hf_config: dict,
                       extra_drop: Sequence[str] = ()) -> ConvertedState:
    """Rename (and split) the released tensors into this project's names.

    Unknown source keys are returned in ``unexpected``, never silently dropped.

    Args:
        extra_drop: regexes (full match) of further source keys the caller knows to be unused;
            they are listed in ``dropped`` like the built-in ones.
    """
    dims = llm_dims(hf_config)
    heads, hidden = dims['num_attention_heads'], dims['hidden_size']
    out = ConvertedState(state_dict={})
    keys = list(src)
    claimed = set()

    def put(src_key: str, dst_key: str, value: Tensor) -> None:
        if dst_key in out.state_dict:
            raise ConversionError(f'two source keys map to {dst_key}')
        out.state_dict[dst_key] = value
        claimed.add(src_key)

    patterns = dict(DROPPED_PATTERNS)
    patterns.update({p: f'dropped on request (pattern {p!r})' for p in extra_drop})
    for key in keys:
        if key in DROPPED_KEYS:
            out.dropped[key] = DROPPED_KEYS[key]
            claimed.add(key)
        for pattern, why in patterns.items():
            if re.fullmatch(pattern, key):
                out.dropped[key] = why
                claimed.add(key)

    # LLM (PhiModel under `model.`, except the multimodal modules that live there too).
    llm_keys = [k for k in keys if k.startswith(LLM_SRC) and k not in claimed
                and not k.startswith(('model.vision_tower.', 'model.mm_projector.'))]
    for key in llm_keys:
        rel = key[len(LLM_SRC):]
        qkv = QKV_RULE.apply(rel)
        if qkv is not None:
            value = src[key]
            expected = (3 * hidden, hidden) if key.endswith('weight') else (3 * hidden, )
            if tuple(value.shape) != expected:
                raise ConversionError(f'{key} has shape {tuple(value.shape)}, expected {expected}')
            for name, part in zip('qkv', split_fused_qkv(value, heads)):
                put(key, LLM_DST + qkv.format(name), part)
            continue
        for rule in LLM_RULES:
            new = rule.apply(rel)
            if new is not None:
                put(key, LLM_DST + new, src[key])
                break

    # Swin.
    swin = {k[len('model.vision_tower.'):]: v for k, v in src.items()
            if k.startswith('model.vision_tower.')}
    for new_key, value in convert_swin(swin).items():
        out.state_dict[new_key] = value
    claimed.update(k for k in keys if k.startswith('model.vision_tower.'))

    # Projector: our SwinConvProjector mirrors `layer1.0.*` and `fc.*`.
    for key in keys:
        if key.startswith('model.mm_projector.'):
            put(key, 'projector.' + key[len('model.mm_projector.'):], src[key])

    # Mask tokens, the four projections, the LM head; pixel decoder; transformer decoder.
    remaining = [k for k in keys if k not in claimed]
    for renamed in (rename_keys(remaining, HEAD_RULES),
                    rename_keys(remaining, pixel_decoder_rules(), 'pixel_decoder.',
                                'mask_generator.pixel_decoder.'),
                    rename_keys(remaining, transformer_decoder_rules(with_psalm_heads=True),
                                'predictor.', 'mask_generator.')):
        for s, d in renamed.mapping.items():
            put(s, d, src[s])
    out.unexpected = sorted(k for k in keys if k not in claimed)
    return out


def infer_model_overrides(state_dict: Dict[str, Tensor], hf_config: dict,
                          tokenizer_path: str) -> dict:
    """``model`` config overrides that make a base PSALM config match the converted weights.

    Everything that is visible in config.json or in tensor shapes is set; what shapes cannot
    tell (attention heads and sampling points of the deformable encoder, heads of the
    Mask2Former decoder, GroupNorm groups, the ReLU of ``adapter_1``) stays as in the base
    config and is checked by building the model.
    """
    sd = state_dict
    dims = llm_dims(hf_config)
    vocab = sd[LLM_DST + 'embed_tokens.weight'].shape[0]
    lm = dict(type='phi', vocab_size=vocab, tie_word_embeddings=False,
              **{k: v for k, v in dims.items() if k != 'vocab_size'})

    # Swin: widths, depths, heads and window from the parameters.
    embed = sd['backbone.patch_embed.projection.weight']
    depths, heads, window = [], [], None
    stage = 0
    while f'backbone.stages.{stage}.blocks.0.norm1.weight' in sd:
        n = 0
        while f'backbone.stages.{stage}.blocks.{n}.norm1.weight' in sd:
            n += 1
        table = sd[f'backbone.stages.{stage}.blocks.0.attn.w_msa.relative_position_bias_table']
        depths.append(n)
        heads.append(int(table.shape[1]))
        window = int(round((table.shape[0] ** 0.5 + 1) / 2))
        stage += 1
    fc1 = sd['backbone.stages.0.blocks.0.ffn.layers.0.0.weight']
    backbone = dict(embed_dims=int(embed.shape[0]), patch_size=int(embed.shape[-1]),
                    strides=[int(embed.shape[-1])] + [2] * (len(depths) - 1),
                    depths=depths, num_heads=heads, window_size=window,
                    mlp_ratio=fc1.shape[0] / fc1.shape[1])
    if float(backbone['mlp_ratio']).is_integer():
        backbone['mlp_ratio'] = int(backbone['mlp_ratio'])

    conv1 = sd['projector.layer1.0.conv1.weight']
    projector = dict(in_channels=int(conv1.shape[1]), hidden_channels=int(conv1.shape[0]))

    mask_tokens = sd['prompt_encoder.mask_tokens']
    out_dims = int(sd['prompt_encoder.mask_query_proj.weight'].shape[0])
    prompt_encoder = dict(num_mask_tokens=int(mask_tokens.shape[0]), out_dims=out_dims)

    pd = 'mask_generator.pixel_decoder.'
    n_enc_levels = int(sd[pd + 'level_encoding.weight'].shape[0])
    enc_layers = _count(sd, pd + 'encoder.layers.{}.norms.0.weight')
    # input_convs run res5 -> res3; lateral_convs.0 is res2.
    in_channels = [int(sd[pd + f'lateral_convs.{i}.conv.weight'].shape[1])
                   for i in range(_count(sd, pd + 'lateral_convs.{}.conv.weight'))]
    in_channels += [int(sd[pd + f'input_convs.{k}.conv.weight'].shape[1])
                    for k in reversed(range(n_enc_levels))]
    feat = int(sd[pd + 'mask_feature.weight'].shape[0])
    dec_layers = _count(sd, 'mask_generator.transformer_decoder.layers.{}.norms.0.weight')
    dec_ffn = sd['mask_generator.transformer_decoder.layers.0.ffn.layers.0.0.weight'].shape[0]
    enc_ffn = sd[pd + 'encoder.layers.0.ffn.layers.0.0.weight'].shape[0]
    mask_generator = dict(
        in_channels=in_channels,
        feat_channels=feat,
        num_queries=int(sd['mask_generator.query_embed.weight'].shape[0]),
        num_transformer_feat_level=int(sd['mask_generator.level_embed.weight'].shape[0]),
        pixel_decoder=dict(
            type='PSALMPixelDecoder',
            num_outs=int(sd['mask_generator.level_embed.weight'].shape[0]),
            # The reference's adapter_1 has a ReLU; the bias is visible in the weights.
            lateral_act_cfg=dict(type='ReLU'),
            fpn_conv_bias=pd + 'lateral_convs.0.conv.bias' in sd,
            encoder=dict(
                num_layers=enc_layers,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=feat, num_levels=n_enc_levels),
                    ffn_cfg=dict(embed_dims=feat, feedforward_channels=int(enc_ffn)))),
            positional_encoding=dict(num_feats=feat // 2)),
        positional_encoding=dict(num_feats=feat // 2),
        transformer_decoder=dict(
            num_layers=dec_layers,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=feat),
                cross_attn_cfg=dict(embed_dims=feat),
                ffn_cfg=dict(embed_dims=feat, feedforward_channels=int(dec_ffn)))))
    language_model = dict(
        model=dict(_delete_=True, **lm),
        tokenizer=dict(_delete_=True, type='pretrained', path=tokenizer_path),
        lm_head_bias='language_model.model.lm_head.bias' in sd)
    return dict(backbone=backbone, projector=projector, language_model=language_model,
                prompt_encoder=prompt_encoder, mask_generator=mask_generator)


def _count(sd: Dict[str, Tensor], template: str) -> int:
    n = 0
    while template.format(n) in sd:
        n += 1
    return n


# ---------------------------------------------------------------------------------- tokenizer
def _token_content(value) -> str:
    return value['content'] if isinstance(value, dict) else value


def build_released_tokenizer(src_dir: str):
    """The released tokenizer from its files, with the released ids of every added token.

    Built directly from ``vocab.json`` / ``merges.txt`` (GPT-2 byte-level BPE, no prefix space,
    as CodeGen / Phi-1.5) plus ``added_tokens.json`` in id order (38 whitespace runs, ``[PAD]``,
    ``[SEG]``), so no tokenizer class named in ``tokenizer_config.json`` has to exist in the
    installed transformers. Raises if an added token does not get its recorded id.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import AddedToken, PreTrainedTokenizerFast
    vocab, merges = osp.join(src_dir, 'vocab.json'), osp.join(src_dir, 'merges.txt')
    for path in (vocab, merges):
        if not osp.isfile(path):
            raise ConversionError(f'tokenizer file {path} not found')
    bpe = Tokenizer(models.BPE.from_file(vocab, merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)

    def read(name: str) -> dict:
        path = osp.join(src_dir, name)
        if not osp.isfile(path):
            return {}
        with open(path) as f:
            return json.load(f)

    special_map = read('special_tokens_map.json')
    tok_cfg = read('tokenizer_config.json')
    added = read('added_tokens.json')
    decoder_cfg = {int(i): v for i, v in tok_cfg.get('added_tokens_decoder', {}).items()}
    specials = {_token_content(v) for k, v in special_map.items()
                if k != 'additional_special_tokens'}
    specials |= {_token_content(v) for v in special_map.get('additional_special_tokens', [])}
    eos = _token_content(special_map.get('eos_token', '<|endoftext|>'))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=_token_content(special_map.get('bos_token', eos)), eos_token=eos,
        unk_token=_token_content(special_map.get('unk_token', eos)),
        model_max_length=int(tok_cfg.get('model_max_length', 2048)))
    for token, idx in sorted(added.items(), key=lambda kv: kv[1]):
        if tok.convert_tokens_to_ids(token) == idx and token in tok.get_vocab():
            continue  # already a BPE token
        if idx != len(tok):
            raise ConversionError(f'added token {token!r} has id {idx} but would get {len(tok)}: '
                                  'added_tokens.json has gaps')
        special = token in specials or bool(decoder_cfg.get(idx, {}).get('special', False))
        tok.add_tokens([AddedToken(token, special=special, normalized=not special)],
                       special_tokens=special)
        if tok.convert_tokens_to_ids(token) != idx:
            raise ConversionError(f'added token {token!r} got id '
                                  f'{tok.convert_tokens_to_ids(token)}, released id {idx}')
    pad = special_map.get('pad_token')
    if pad is not None:
        tok.pad_token = _token_content(pad)
    return tok


# --------------------------------------------------------------------------- whole conversion
DEFAULT_NAMES = dict(checkpoint='psalm.pth', tokenizer='tokenizer', config='psalm_converted.py')


def _config_text(base_config: str, checkpoint: str, overrides: dict, src_dir: str) -> str:
    from mmengine.config import Config
    body = Config(dict(model=copy.deepcopy(overrides))).pretty_text
    return (f'# Generated by tools/model_converters/psalm_hf_to_mmdet.py from {src_dir}.\n'
            '# The released dims on top of the base config; load_from = the converted weights.\n'
            f'_base_ = {base_config!r}\n'
            f'load_from = {checkpoint!r}\n'
            f'{body}\n')


def convert_checkpoint(src_dir: str, out_dir: str, base_config: str, overwrite: bool = False,
                       extra_drop: Sequence[str] = (),
                       logger: Callable[[str], None] = print) -> dict:
    """Convert a released PSALM directory into ``out_dir``.

    Writes ``out_dir/psalm.pth`` (``{'state_dict', 'meta'}``), ``out_dir/tokenizer/`` and
    ``out_dir/psalm_converted.py`` (``base_config`` + the released dims + ``load_from``).
    Everything is checked before anything appears in ``out_dir``: every source key must be
    mapped or knowingly dropped, and the converted state dict must match, key for key and shape
    for shape, the model that the written config builds (strict loading).

    Args:
        extra_drop: regexes of source keys to drop besides :data:`DROPPED_KEYS` (for keys a
            checkpoint turns out to hold that its forward does not use); recorded in ``meta``.

    Returns:
        The ``meta`` stored in the checkpoint (mapping summary, dropped keys, token ids).

    Raises:
        ConversionError: the conversion would be partial; ``out_dir`` is not created.
    """
    from mmengine.config import Config
    src_dir, out_dir = osp.abspath(src_dir), osp.abspath(out_dir)
    base_config = osp.abspath(base_config)
    if osp.exists(out_dir) and os.listdir(out_dir) and not overwrite:  # before reading GBs
        raise ConversionError(f'{out_dir} exists and is not empty (use overwrite to replace it)')
    hf_config = read_hf_config(src_dir)
    source = _SourceTensors(src_dir)
    logger(f'reading {len(source.keys())} tensors from {", ".join(source.files)}')
    converted = convert_state_dict(source.load_all(), hf_config, extra_drop)
    if converted.unexpected:
        raise ConversionError(
            f'{len(converted.unexpected)} source keys have no target and are not known to be '
            f'unused: {converted.unexpected} (if a key is known to be unused by the released '
            'forward, pass it in extra_drop / --drop)')
    final_tokenizer = osp.join(out_dir, DEFAULT_NAMES['tokenizer'])
    final_checkpoint = osp.join(out_dir, DEFAULT_NAMES['checkpoint'])
    with staged_output_dir(out_dir, overwrite=overwrite) as tmp:
        tokenizer = build_released_tokenizer(src_dir)
        tokenizer.save_pretrained(osp.join(tmp, DEFAULT_NAMES['tokenizer']))
        seg_id = tokenizer.convert_tokens_to_ids('[SEG]')
        if LLM_DST + 'embed_tokens.weight' not in converted.state_dict:
            raise ConversionError('the released weights lack model.embed_tokens.weight')
        vocab_rows = converted.state_dict[LLM_DST + 'embed_tokens.weight'].shape[0]
        if '[SEG]' not in tokenizer.get_vocab() or tokenizer.pad_token is None:
            raise ConversionError('the released tokenizer files lack [SEG] or a pad token; the '
                                  'model would add them and outgrow the released embeddings')
        if int(hf_config['vocab_size']) != vocab_rows:
            logger(f'note: config.json says vocab_size={hf_config["vocab_size"]}, the embeddings '
                   f'have {vocab_rows} rows; the written config uses {vocab_rows}')
        if len(tokenizer) > vocab_rows:
            raise ConversionError(f'tokenizer has {len(tokenizer)} tokens but the embeddings '
                                  f'{vocab_rows} rows')
        # Check with the tokenizer where it is now; write the config with where it will be.
        try:
            overrides = infer_model_overrides(converted.state_dict, hf_config,
                                              osp.join(tmp, DEFAULT_NAMES['tokenizer']))
        except KeyError as e:
            raise ConversionError(f'the converted weights lack {e.args[0]}') from e
        cfg = Config.fromfile(base_config)
        # merge_from_dict consumes the `_delete_` flags; the written config needs them.
        cfg.merge_from_dict(dict(model=copy.deepcopy(overrides)))
        check = check_against(converted.state_dict, model_shapes(cfg.model))
        if not check.ok:
            raise ConversionError(f'converted weights do not match the model of {base_config} '
                                  f'with the released dims: {check.describe()}')
        overrides['language_model']['tokenizer']['path'] = final_tokenizer
        meta = dict(
            converter='psalm_hf_to_mmdet', source_dir=src_dir, source_files=source.files,
            source_num_tensors=len(source.keys()), num_tensors=len(converted.state_dict),
            dropped=dict(sorted(converted.dropped.items())),
            hf_config={k: v for k, v in sorted(hf_config.items())
                       if v is None or isinstance(v, (str, int, float, bool))},
            special_token_ids={'[PAD]': int(tokenizer.pad_token_id), '[SEG]': int(seg_id),
                               'eos': int(tokenizer.eos_token_id)},
            tokenizer_size=len(tokenizer), base_config=base_config)
        torch.save(dict(state_dict=converted.state_dict, meta=meta),
                   osp.join(tmp, DEFAULT_NAMES['checkpoint']))
        with open(osp.join(tmp, DEFAULT_NAMES['config']), 'w') as f:
            f.write(_config_text(base_config, final_checkpoint, overrides, src_dir))
        logger(f'{len(converted.state_dict)} tensors converted, {len(converted.dropped)} dropped: '
               f'{sorted(converted.dropped)}')
    return meta
