"""A tiny fake of the released PSALM checkpoint (HF ``EnmingZhang/PSALM`` layout): tests, demos.

Written key by key from the reference's layout (shared/docs/reference_implementation.md section 10:
transformers-4.36 Phi with the fused ``query_key_value``, official-layout Swin, ``nn.Sequential``
FPN convs, ``predictor.*``) with the dims of ``configs/psalm/psalm_tiny_phi_joint.py``, so that
:func:`psalm.converters.convert_psalm_hf` can turn it into "a converted tiny checkpoint"
(:func:`make_converted_tiny_psalm`) without any download.
"""
import json
import math
import os
import os.path as osp
import shutil
from typing import Callable, Dict, Optional

import torch
from safetensors.torch import save_file

from psalm.models import build_tokenizer, gpt2_bpe_files

# Dims of the tiny config.
SWIN = dict(embed=16, depths=[1, 1, 1, 1], heads=[1, 2, 2, 4], window=4, mlp_ratio=4)
LLM = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
           max_position_embeddings=1024, partial_rotary_factor=0.5, rope_theta=10000.0,
           layer_norm_eps=1e-5, hidden_act='gelu_new')
DEC = dict(dims=32, queries=10, enc_layers=1, enc_ffn=64, enc_heads=4, enc_points=4, levels=3,
           dec_layers=3, dec_ffn=64, dec_heads=4)
PROJ_HIDDEN = 64


class RandomTensors:
    """Random tensors; norms near identity so activations stay in range."""

    def __init__(self, seed: int) -> None:
        self.g = torch.Generator().manual_seed(seed)

    def w(self, *shape, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=self.g) * scale

    def norm(self, sd: dict, prefix: str, n: int) -> None:
        sd[prefix + 'weight'] = 1 + self.w(n, scale=0.1)
        sd[prefix + 'bias'] = self.w(n, scale=0.1)

    def linear(self, sd: dict, prefix: str, out: int, inp: int, bias: bool = True) -> None:
        sd[prefix + 'weight'] = self.w(out, inp, scale=1 / math.sqrt(inp))
        if bias:
            sd[prefix + 'bias'] = self.w(out, scale=0.1)

    def bn(self, sd: dict, prefix: str, n: int) -> None:
        self.norm(sd, prefix, n)
        sd[prefix + 'running_mean'] = self.w(n, scale=0.1)
        sd[prefix + 'running_var'] = 1 + self.w(n, scale=0.1).abs()
        sd[prefix + 'num_batches_tracked'] = torch.tensor(7, dtype=torch.int64)


def official_relative_position_index(window: int) -> torch.Tensor:
    """The official Swin formula (PSALM's swin_trans.py / Mask2Former)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij'))
    flat = coords.flatten(1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1)


def official_swin(gen: RandomTensors, prefix: str) -> dict:
    """Official-layout Swin keys (PSALM ``model.vision_tower.*`` = detectron2 ``backbone.*``)."""
    sd = {}
    e, w = SWIN['embed'], SWIN['window']
    sd[prefix + 'patch_embed.proj.weight'] = gen.w(e, 3, 4, 4)
    sd[prefix + 'patch_embed.proj.bias'] = gen.w(e, scale=0.1)
    gen.norm(sd, prefix + 'patch_embed.norm.', e)
    for s, (depth, heads) in enumerate(zip(SWIN['depths'], SWIN['heads'])):
        c = e * 2**s
        for b in range(depth):
            p = f'{prefix}layers.{s}.blocks.{b}.'
            gen.norm(sd, p + 'norm1.', c)
            gen.linear(sd, p + 'attn.qkv.', 3 * c, c)
            gen.linear(sd, p + 'attn.proj.', c, c)
            sd[p + 'attn.relative_position_bias_table'] = gen.w((2 * w - 1)**2, heads)
            sd[p + 'attn.relative_position_index'] = official_relative_position_index(w)
            gen.norm(sd, p + 'norm2.', c)
            gen.linear(sd, p + 'mlp.fc1.', SWIN['mlp_ratio'] * c, c)
            gen.linear(sd, p + 'mlp.fc2.', c, SWIN['mlp_ratio'] * c)
        if s < 3:
            gen.linear(sd, f'{prefix}layers.{s}.downsample.reduction.', 2 * c, 4 * c, bias=False)
            gen.norm(sd, f'{prefix}layers.{s}.downsample.norm.', 4 * c)
        gen.norm(sd, f'{prefix}norm{s}.', c)
    return sd


def reference_pixel_decoder(gen: RandomTensors, prefix: str, d2: bool) -> dict:
    """The reference's pixel decoder keys; ``d2``: detectron2's (FPN convs without bias, their
    GroupNorm as ``.norm``)."""
    sd, d = {}, DEC['dims']
    chans = [SWIN['embed'] * 2**i for i in range(4)]
    for k, c in enumerate(reversed(chans[1:])):  # res5, res4, res3
        gen.linear(sd, f'{prefix}input_proj.{k}.0.', d, c)
        sd[f'{prefix}input_proj.{k}.0.weight'] = sd[f'{prefix}input_proj.{k}.0.weight'][..., None,
                                                                                        None]
        gen.norm(sd, f'{prefix}input_proj.{k}.1.', d)
    sd[prefix + 'transformer.level_embed'] = gen.w(DEC['levels'], d)
    n_off = DEC['enc_heads'] * DEC['levels'] * DEC['enc_points']
    for layer in range(DEC['enc_layers']):
        p = f'{prefix}transformer.encoder.layers.{layer}.'
        gen.linear(sd, p + 'self_attn.sampling_offsets.', 2 * n_off, d)
        gen.linear(sd, p + 'self_attn.attention_weights.', n_off, d)
        gen.linear(sd, p + 'self_attn.value_proj.', d, d)
        gen.linear(sd, p + 'self_attn.output_proj.', d, d)
        gen.norm(sd, p + 'norm1.', d)
        gen.linear(sd, p + 'linear1.', DEC['enc_ffn'], d)
        gen.linear(sd, p + 'linear2.', d, DEC['enc_ffn'])
        gen.norm(sd, p + 'norm2.', d)
    sd[prefix + 'mask_features.weight'] = gen.w(d, d, 1, 1)
    sd[prefix + 'mask_features.bias'] = gen.w(d, scale=0.1)
    for name, cin, k in (('adapter_1', chans[0], 1), ('layer_1', d, 3)):
        if d2:
            sd[f'{prefix}{name}.weight'] = gen.w(d, cin, k, k)
            gen.norm(sd, f'{prefix}{name}.norm.', d)
        else:
            sd[f'{prefix}{name}.0.weight'] = gen.w(d, cin, k, k)
            sd[f'{prefix}{name}.0.bias'] = gen.w(d, scale=0.1)
            gen.norm(sd, f'{prefix}{name}.1.', d)
    return sd


def reference_predictor(gen: RandomTensors, prefix: str, num_queries: int, psalm: bool) -> dict:
    sd, d = {}, DEC['dims']
    for i in range(DEC['dec_layers']):
        for kind, attn in (('self_attention', 'self_attn'), ('cross_attention', 'multihead_attn')):
            p = f'{prefix}transformer_{kind}_layers.{i}.'
            sd[p + f'{attn}.in_proj_weight'] = gen.w(3 * d, d, scale=1 / math.sqrt(d))
            sd[p + f'{attn}.in_proj_bias'] = gen.w(3 * d, scale=0.1)
            gen.linear(sd, p + f'{attn}.out_proj.', d, d)
            gen.norm(sd, p + 'norm.', d)
        p = f'{prefix}transformer_ffn_layers.{i}.'
        gen.linear(sd, p + 'linear1.', DEC['dec_ffn'], d)
        gen.linear(sd, p + 'linear2.', d, DEC['dec_ffn'])
        gen.norm(sd, p + 'norm.', d)
    gen.norm(sd, prefix + 'decoder_norm.', d)
    sd[prefix + 'query_feat.weight'] = gen.w(num_queries, d)
    sd[prefix + 'query_embed.weight'] = gen.w(num_queries, d)
    sd[prefix + 'level_embed.weight'] = gen.w(DEC['levels'], d)
    for k in range(3):
        gen.linear(sd, f'{prefix}mask_embed.layers.{k}.', d, d)
    if psalm:
        sd[prefix + 'SEG_query_embed.weight'] = gen.w(num_queries + 1, d)
        for head in ('SEG_proj', 'CLASS_proj', 'REGION_proj'):
            for k in range(2):
                gen.linear(sd, f'{prefix}{head}.layers.{k}.', d, d)
    else:
        gen.linear(sd, prefix + 'class_embed.', 134, d)
    return sd


def released_tokenizer():
    tok = build_tokenizer(dict(type='gpt2_bpe', codegen_whitespace=True))
    tok.add_special_tokens(dict(pad_token='[PAD]'))
    tok.add_tokens(['[SEG]'])  # the reference adds it as an ordinary added token
    return tok


def released_state_dict(vocab: int, seed: int = 0) -> dict:
    """Section 10 of the reference notes, tiny."""
    gen, sd = RandomTensors(seed), {}
    h, inter = LLM['hidden_size'], LLM['intermediate_size']
    sd['model.embed_tokens.weight'] = gen.w(vocab, h, scale=1.0)
    for i in range(LLM['num_hidden_layers']):
        p = f'model.layers.{i}.'
        gen.linear(sd, p + 'self_attn.query_key_value.', 3 * h, h)
        gen.linear(sd, p + 'self_attn.dense.', h, h)
        gen.linear(sd, p + 'mlp.fc1.', inter, h)
        gen.linear(sd, p + 'mlp.fc2.', h, inter)
        gen.norm(sd, p + 'input_layernorm.', h)
    gen.norm(sd, 'model.final_layernorm.', h)
    sd['lm_head.weight'] = gen.w(vocab, h)
    sd.update(official_swin(gen, 'model.vision_tower.'))
    c5, p = SWIN['embed'] * 8, 'model.mm_projector.layer1.0.'
    sd[p + 'conv1.weight'] = gen.w(PROJ_HIDDEN, c5, 3, 3, scale=0.05)
    gen.bn(sd, p + 'bn1.', PROJ_HIDDEN)
    sd[p + 'conv2.weight'] = gen.w(PROJ_HIDDEN, PROJ_HIDDEN, 3, 3, scale=0.05)
    gen.bn(sd, p + 'bn2.', PROJ_HIDDEN)
    sd[p + 'downsample.0.weight'] = gen.w(PROJ_HIDDEN, c5, 1, 1, scale=0.05)
    gen.bn(sd, p + 'downsample.1.', PROJ_HIDDEN)
    gen.linear(sd, 'model.mm_projector.fc.', h, PROJ_HIDDEN)
    sd['seg_query'] = gen.w(DEC['queries'], h)
    for name in ('seg_query_projector', 'SEG_token_projector', 'class_name_projector',
                 'region_projector'):
        gen.linear(sd, name + '.', DEC['dims'], h)
    sd.update(reference_pixel_decoder(gen, 'pixel_decoder.', d2=False))
    sd.update(reference_predictor(gen, 'predictor.', DEC['queries'], psalm=True))
    return {k: v.contiguous() for k, v in sd.items()}


def write_released(path: str, sd: dict, tokenizer) -> None:
    """Two safetensors shards + index, config.json and the slow-tokenizer files."""
    os.makedirs(path)
    names = sorted(sd)
    shards = {'model-00001-of-00002.safetensors': [k for k in names if k.startswith('model.l')],
              'model-00002-of-00002.safetensors': [k for k in names if not k.startswith('model.l')]}
    weight_map = {}
    for fname, keys in shards.items():
        save_file({k: sd[k] for k in keys}, osp.join(path, fname), metadata=dict(format='pt'))
        weight_map.update({k: fname for k in keys})
    total = sum(v.numel() * v.element_size() for v in sd.values())
    with open(osp.join(path, 'model.safetensors.index.json'), 'w') as f:
        json.dump(dict(metadata=dict(total_size=total), weight_map=weight_map), f, indent=2)
    config = dict(LLM, architectures=['PSALM'], model_type='llava_phi',
                  vocab_size=sd['model.embed_tokens.weight'].shape[0], qk_layernorm=False,
                  rope_scaling=None, tie_word_embeddings=False, bos_token_id=50256,
                  eos_token_id=50256, mm_vision_tower='model_final_54b88a.pkl', swin_type='base',
                  mm_projector_type='swin_conv', projector_outdim=LLM['hidden_size'],
                  mm_hidden_size=256, with_norm=True, with_layernorm=False,
                  mask_decode_train=True, torch_dtype='float32')
    with open(osp.join(path, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    files = gpt2_bpe_files()
    shutil.copy(files['vocab'], osp.join(path, 'vocab.json'))
    shutil.copy(files['merges'], osp.join(path, 'merges.txt'))
    added = {t: i for t, i in tokenizer.get_vocab().items() if i >= 50257}
    eos = '<|endoftext|>'
    for name, content in (('added_tokens.json', added),
                          ('special_tokens_map.json',
                           dict(bos_token=eos, eos_token=eos, unk_token=eos, pad_token='[PAD]')),
                          ('tokenizer_config.json',
                           dict(tokenizer_class='CodeGenTokenizer', model_max_length=2048,
                                add_prefix_space=False))):
        with open(osp.join(path, name), 'w') as f:
            json.dump(content, f, indent=2)


def make_converted_tiny_psalm(out_dir: str, base_config: str, seed: int = 0,
                              logger: Optional[Callable[..., None]] = None) -> Dict[str, str]:
    """Write a fake released checkpoint under ``out_dir/released`` and convert it to
    ``out_dir/converted`` (``psalm.pth``, ``tokenizer/``, ``psalm_converted.py``).

    Args:
        out_dir: a directory that does not hold ``released``/``converted`` yet.
        base_config: the config the converted one inherits, with the tiny dims
            (``configs/psalm/psalm_tiny_phi_joint.py``).
        seed: seed of the random weights.

    Returns:
        ``config`` (the converted config), ``checkpoint`` (``psalm.pth``), ``released`` (the
        fake HF directory).
    """
    from psalm.converters import convert_psalm_hf
    tokenizer = released_tokenizer()
    src, dst = osp.join(out_dir, 'released'), osp.join(out_dir, 'converted')
    write_released(src, released_state_dict(len(tokenizer), seed), tokenizer)
    convert_psalm_hf(src, dst, base_config, logger=logger or (lambda *args: None))
    return dict(config=osp.join(dst, 'psalm_converted.py'),
                checkpoint=osp.join(dst, 'psalm.pth'), released=src)
