"""Checkpoint converters on tiny fakes of the real files.

The fake released PSALM checkpoint is written key by key from the reference's layout
(shared/docs/reference_implementation.md section 10: transformers-4.36 Phi with the fused
``query_key_value``, official-layout Swin, ``nn.Sequential`` FPN convs, ``predictor.*``) with the
dims of ``configs/psalm/psalm_tiny_phi_joint.py``; the fake detectron2 pickle likewise with
Mask2Former's names. Conversions are checked by strict loading and by recomputing the reference
layers (fused-qkv Phi attention with partial rotary, official PatchMerging, Mask2Former decoder
layer) from the source tensors.
"""
import json
import math
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from safetensors.torch import save_file

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from psalm.converters import (ConversionError, convert_mask2former_d2, convert_psalm_hf,
                              load_d2_pickle, split_fused_qkv)
# The fake released checkpoint lives in psalm.testing (the demo tests convert it too).
from psalm.testing.released_psalm import DEC, LLM, SWIN
from psalm.testing.released_psalm import RandomTensors as _Gen
from psalm.testing.released_psalm import (official_relative_position_index, official_swin,
                                          reference_pixel_decoder, reference_predictor,
                                          released_state_dict, released_tokenizer,
                                          write_released)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')


# ------------------------------------------------------------------- reference computations
def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def fused_qkv_phi(sd: dict, x: torch.Tensor, naive_split: bool = False):
    """transformers-4.36 Phi (eager) on the *released* tensors: fused ``query_key_value`` viewed
    as (B, L, heads, 3, head_dim), rotary (rotate-half) on the first half of each head, causal
    attention, parallel attention + MLP block. Returns (layer-0 attention output, last hidden
    state). ``naive_split`` splits the fused rows in three blocks instead (a wrong layout)."""
    heads, hidden = LLM['num_attention_heads'], LLM['hidden_size']
    head_dim = hidden // heads
    rot = int(head_dim * LLM['partial_rotary_factor'])
    b, length, _ = x.shape
    inv_freq = 1.0 / (LLM['rope_theta']**(torch.arange(0, rot, 2).float() / rot))
    freqs = torch.outer(torch.arange(length).float(), inv_freq)
    cos, sin = torch.cat([freqs, freqs], -1).cos(), torch.cat([freqs, freqs], -1).sin()

    def rope(t):
        t_rot, t_pass = t[..., :rot], t[..., rot:]
        half = torch.cat([-t_rot[..., rot // 2:], t_rot[..., :rot // 2]], -1)
        return torch.cat([t_rot * cos + half * sin, t_pass], -1)

    eps, attn0 = LLM['layer_norm_eps'], None
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    for i in range(LLM['num_hidden_layers']):
        p = f'model.layers.{i}.'
        ln = F.layer_norm(x, (hidden, ), sd[p + 'input_layernorm.weight'],
                          sd[p + 'input_layernorm.bias'], eps)
        fused = F.linear(ln, sd[p + 'self_attn.query_key_value.weight'],
                         sd[p + 'self_attn.query_key_value.bias'])
        if naive_split:
            q, k, v = (t.reshape(b, length, heads, head_dim) for t in fused.chunk(3, -1))
        else:
            fused = fused.view(b, length, heads, 3, head_dim)
            q, k, v = fused[..., 0, :], fused[..., 1, :], fused[..., 2, :]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        q, k = rope(q), rope(k)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
        probs = scores.masked_fill(~causal, float('-inf')).softmax(-1)
        ctx = (probs @ v).transpose(1, 2).reshape(b, length, hidden)
        attn = F.linear(ctx, sd[p + 'self_attn.dense.weight'], sd[p + 'self_attn.dense.bias'])
        mlp = F.linear(gelu_new(F.linear(ln, sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])),
                       sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        attn0 = attn if attn0 is None else attn0
        x = attn + mlp + x
    return attn0, F.layer_norm(x, (hidden, ), sd['model.final_layernorm.weight'],
                               sd['model.final_layernorm.bias'], eps)


def official_patch_merging(x: torch.Tensor, hw, norm_w, norm_b, reduction) -> torch.Tensor:
    """PatchMerging of the official Swin: neighbours (0,0), (1,0), (0,1), (1,1) concatenated."""
    b, _, c = x.shape
    x = x.view(b, *hw, c)
    x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
    x = F.layer_norm(x.view(b, -1, 4 * c), (4 * c, ), norm_w, norm_b)
    return F.linear(x, reduction)


def mask2former_decoder_layer(sd: dict, prefix: str, i: int, query, query_pos, memory, pos):
    """One layer of Mask2Former's decoder on the source tensors: cross-attn -> norm -> self-attn
    -> norm -> FFN -> norm (post-norm), positions added to queries and keys only."""
    d = DEC['dims']

    def mha(attn_prefix):
        m = nn.MultiheadAttention(d, DEC['dec_heads'], batch_first=True)
        m.load_state_dict({k: sd[attn_prefix + k] for k in ('in_proj_weight', 'in_proj_bias',
                                                             'out_proj.weight', 'out_proj.bias')})
        return m.eval()

    def norm(p):
        return lambda t: F.layer_norm(t, (d, ), sd[p + 'weight'], sd[p + 'bias'])

    c = f'{prefix}transformer_cross_attention_layers.{i}.'
    s = f'{prefix}transformer_self_attention_layers.{i}.'
    f = f'{prefix}transformer_ffn_layers.{i}.'
    t = norm(c + 'norm.')(query + mha(c + 'multihead_attn.')(query + query_pos, memory + pos,
                                                                memory)[0])
    t = norm(s + 'norm.')(t + mha(s + 'self_attn.')(t + query_pos, t + query_pos, t)[0])
    ffn = F.linear(F.relu(F.linear(t, sd[f + 'linear1.weight'], sd[f + 'linear1.bias'])),
                   sd[f + 'linear2.weight'], sd[f + 'linear2.bias'])
    return norm(f + 'norm.')(t + ffn)


# -------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope='module')
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp('psalm_hf')
    tok = released_tokenizer()
    assert len(tok) == 50297 and tok.convert_tokens_to_ids('[SEG]') == 50296
    sd = released_state_dict(len(tok))
    write_released(str(root / 'released'), sd, tok)
    return dict(root=root, src=str(root / 'released'), sd=sd, tokenizer=tok)


@pytest.fixture(scope='module')
def converted(released):
    out = osp.join(released['root'], 'converted')
    meta = convert_psalm_hf(released['src'], out, TINY_CONFIG, logger=lambda *a: None)
    register_all_modules()
    cfg = Config.fromfile(osp.join(out, 'psalm_converted.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    fresh_index = model.backbone.stages[0].blocks[0].attn.w_msa.relative_position_index.clone()
    load_checkpoint(model, cfg.load_from, map_location='cpu', strict=True, logger='silent')
    return dict(out=out, meta=meta, cfg=cfg, model=model.eval(), fresh_index=fresh_index)


# ----------------------------------------------------------------------------------- tests
def test_split_fused_qkv_is_per_head_interleaved():
    heads, head_dim, hidden = 3, 2, 5
    rows = torch.arange(heads * 3 * head_dim).float()[:, None].expand(-1, hidden)
    q, k, v = split_fused_qkv(rows, heads)
    # Row r of the fused weight belongs to head r // (3 * head_dim), part (r // head_dim) % 3.
    assert q[:, 0].tolist() == [0, 1, 6, 7, 12, 13]
    assert k[:, 0].tolist() == [2, 3, 8, 9, 14, 15]
    assert v[:, 0].tolist() == [4, 5, 10, 11, 16, 17]
    qb, kb, vb = split_fused_qkv(rows[:, 0].contiguous(), heads)
    assert torch.equal(qb, q[:, 0]) and torch.equal(vb, v[:, 0])


def test_psalm_hf_output_files_and_meta(released, converted):
    out, meta = converted['out'], converted['meta']
    assert sorted(os.listdir(out)) == ['psalm.pth', 'psalm_converted.py', 'tokenizer']
    assert not [n for n in os.listdir(released['root']) if '.tmp-' in n]
    assert sorted(meta['dropped']) == ['predictor.SEG_query_embed.weight',
                                       'predictor.query_feat.weight']
    assert meta['special_token_ids'] == {'[PAD]': 50295, '[SEG]': 50296, 'eos': 50256}
    # 2 LLM qkv tensors become 6 -> +2 per layer and weight/bias; minus the 2 dropped keys.
    assert meta['num_tensors'] == len(released['sd']) + 4 * LLM['num_hidden_layers'] - 2
    ckpt = torch.load(osp.join(out, 'psalm.pth'), map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    cfg = converted['cfg']
    assert cfg.model.language_model.model.vocab_size == 50297
    assert cfg.model.language_model.tokenizer == dict(type='pretrained',
                                                      path=osp.join(out, 'tokenizer'))
    assert cfg.model.backbone.num_heads == SWIN['heads']


def test_psalm_hf_tokenizer_keeps_released_ids(released, converted):
    model = converted['model']
    ours, ref = model.language_model.tokenizer, released['tokenizer']
    assert len(ours) == len(ref) == 50297
    assert model.language_model.seg_token_id == 50296
    assert model.language_model.pad_token_id == 50295
    text = 'def f(x):\n        return x  [SEG] a red  dog\t\tsits[PAD]'
    assert model.language_model.tokenize(text) == ref(text, add_special_tokens=False).input_ids
    assert 50296 in model.language_model.tokenize(text)


def test_psalm_hf_llm_matches_fused_qkv_phi(released, converted):
    model, sd = converted['model'], released['sd']
    torch.manual_seed(1)
    x = torch.randn(2, 9, LLM['hidden_size'])
    captured = {}

    def keep_output(module, args, output) -> None:  # returns None: the output is not replaced
        captured['attn'] = output[0]

    layer0 = model.language_model.model.model.layers[0].self_attn
    handle = layer0.register_forward_hook(keep_output)
    with torch.no_grad():
        hidden = model.language_model(x, torch.ones(2, 9, dtype=torch.long))['hidden_states']
    handle.remove()
    ref_attn, ref_hidden = fused_qkv_phi(sd, x)
    torch.testing.assert_close(captured['attn'], ref_attn, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(hidden, ref_hidden, atol=1e-5, rtol=1e-4)
    # The comparison tells layouts apart: splitting the fused rows in 3 blocks is far off.
    wrong_attn, _ = fused_qkv_phi(sd, x, naive_split=True)
    assert (wrong_attn - captured['attn']).abs().max() > 1e-2


def test_psalm_hf_vision_and_decoder_layouts(released, converted):
    model, sd = converted['model'], released['sd']
    # mmdet computes the same relative position index as the official Swin.
    assert torch.equal(converted['fresh_index'], official_relative_position_index(SWIN['window']))
    # PatchMerging: mmdet's unfold order after the permutation = the official concatenation.
    c, hw = SWIN['embed'], (6, 8)
    x = torch.randn(2, hw[0] * hw[1], c)
    with torch.no_grad():
        ours, out_hw = model.backbone.stages[0].downsample(x, hw)
    p = 'model.vision_tower.layers.0.downsample.'
    ref = official_patch_merging(x, hw, sd[p + 'norm.weight'], sd[p + 'norm.bias'],
                                 sd[p + 'reduction.weight'])
    assert tuple(out_hw) == (3, 4)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    # Decoder layer: norms[0] after cross-attention, norms[1] after self-attention.
    d, q_len, k_len = DEC['dims'], DEC['queries'], 12
    query, qpos = torch.randn(2, q_len, d), torch.randn(2, q_len, d)
    mem, pos = torch.randn(2, k_len, d), torch.randn(2, k_len, d)
    with torch.no_grad():
        ours = model.mask_generator.transformer_decoder.layers[1](
            query=query, key=mem, value=mem, query_pos=qpos, key_pos=pos, cross_attn_mask=None,
            query_key_padding_mask=None, key_padding_mask=None)
        ref = mask2former_decoder_layer(sd, 'predictor.', 1, query, qpos, mem, pos)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    # The four projections and the classifier MLPs land where the model uses them.
    pe, mg = model.prompt_encoder, model.mask_generator
    assert torch.equal(pe.mask_tokens, sd['seg_query'])
    assert torch.equal(pe.category_proj.weight, sd['class_name_projector.weight'])
    assert torch.equal(pe.sentence_proj.weight, sd['SEG_token_projector.weight'])
    assert torch.equal(pe.mask_query_proj.bias, sd['seg_query_projector.bias'])
    assert torch.equal(pe.region_proj.weight, sd['region_projector.weight'])
    assert torch.equal(mg.score_mlps.category.layers[1].weight,
                       sd['predictor.CLASS_proj.layers.1.weight'])
    assert torch.equal(mg.score_mlps.sentence.layers[0].bias,
                       sd['predictor.SEG_proj.layers.0.bias'])
    assert torch.equal(mg.score_mlps.visual_prior.layers[0].weight,
                       sd['predictor.REGION_proj.layers.0.weight'])
    assert torch.equal(mg.pixel_decoder.lateral_convs[0].conv.bias,
                       sd['pixel_decoder.adapter_1.0.bias'])
    assert torch.equal(mg.pixel_decoder.input_convs[2].gn.weight,
                       sd['pixel_decoder.input_proj.2.1.weight'])
    assert torch.equal(mg.pixel_decoder.level_encoding.weight,
                       sd['pixel_decoder.transformer.level_embed'])
    assert torch.equal(model.projector.layer1[0].downsample[1].running_var,
                       sd['model.mm_projector.layer1.0.downsample.1.running_var'])


def test_psalm_hf_cli(released, tmp_path, run_tool):
    out = tmp_path / 'cli_out'
    log = run_tool([osp.join(REPO, 'tools', 'model_converters', 'psalm_hf_to_mmdet.py'),
                    released['src'], out, '--base-config', TINY_CONFIG], tmp_path, timeout=300)
    assert "'[SEG]': 50296" in log
    assert sorted(os.listdir(out)) == ['psalm.pth', 'psalm_converted.py', 'tokenizer']


@pytest.mark.parametrize('change', ['missing', 'unexpected'])
def test_psalm_hf_refuses_partial_conversion(released, tmp_path, change):
    src = str(tmp_path / 'released')
    shutil.copytree(released['src'], src)
    index_path = osp.join(src, 'model.safetensors.index.json')
    with open(index_path) as f:
        index = json.load(f)
    sd = dict(released['sd'])
    if change == 'missing':
        key = 'model.layers.1.mlp.fc2.bias'
        sd.pop(key)
    else:
        key = 'predictor.class_embed.weight'
        sd[key] = torch.zeros(3, DEC['dims'])
    # Rewrite the second shard and the index with the changed key set.
    shard = 'model-00002-of-00002.safetensors'
    index['weight_map'].pop(key, None)
    keys = [k for k in sd if not k.startswith('model.l')]
    if change == 'missing':
        shard = 'model-00001-of-00002.safetensors'
        keys = [k for k in sd if k.startswith('model.l')]
    else:
        index['weight_map'][key] = shard
    save_file({k: sd[k] for k in keys}, osp.join(src, shard))
    with open(index_path, 'w') as f:
        json.dump(index, f)
    out = tmp_path / 'out'
    with pytest.raises(ConversionError, match=key.replace('.', r'\.')):
        convert_psalm_hf(src, str(out), TINY_CONFIG, logger=lambda *a: None)
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ['released']
    if change == 'unexpected':
        # An explicit drop request lets it through, and the meta says so.
        meta = convert_psalm_hf(src, str(out), TINY_CONFIG,
                                extra_drop=[r'predictor\.class_\w+\.weight'],
                                logger=lambda *a: None)
        assert meta['dropped'][key].startswith('dropped on request')


# ------------------------------------------------------------------------ detectron2 pickle
def d2_state_dict(seed: int = 3) -> dict:
    gen = _Gen(seed)
    sd = official_swin(gen, 'backbone.')
    sd.update(reference_pixel_decoder(gen, 'sem_seg_head.pixel_decoder.', d2=True))
    sd.update(reference_predictor(gen, 'sem_seg_head.predictor.', 2 * DEC['queries'],
                                  psalm=False))
    sd['criterion.empty_weight'] = torch.ones(134)
    return sd


def write_d2_pickle(path: str, sd: dict) -> None:
    with open(path, 'wb') as f:
        pickle.dump(dict(model={k: v.numpy() for k, v in sd.items()}, __author__='Mask2Former',
                         matching_heuristics=True), f)


def test_d2_pickle_loader_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    path = str(tmp_path / 'evil.pkl')
    with open(path, 'wb') as f:
        pickle.dump(dict(model={'x': Evil()}), f)
    with pytest.raises(pickle.UnpicklingError, match='posix.getcwd|os.getcwd|nt.getcwd'):
        load_d2_pickle(path)


def test_mask2former_d2_initialises_backbone_and_decoders(tmp_path):
    sd = d2_state_dict()
    pkl, out = str(tmp_path / 'model_final.pkl'), str(tmp_path / 'm2f_init.pth')
    write_d2_pickle(pkl, sd)
    meta = convert_mask2former_d2(pkl, out, TINY_CONFIG, logger=lambda *a: None)
    register_all_modules()
    cfg = Config.fromfile(TINY_CONFIG)
    model = MODELS.build(cfg.model)
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    result = model.load_state_dict(ckpt['state_dict'], strict=False)
    assert result.unexpected_keys == []
    # BatchNorm fills in an absent num_batches_tracked itself, so torch does not list it.
    assert sorted(result.missing_keys) == [k for k in meta['not_initialised']
                                           if not k.endswith('num_batches_tracked')]
    assert {k.split('.')[0] if not k.startswith('mask_generator') else '.'.join(k.split('.')[:2])
            for k in meta['not_initialised']} == {
                'language_model', 'projector', 'prompt_encoder', 'mask_generator.score_mlps'}
    assert meta['zero_filled'] == ['mask_generator.pixel_decoder.lateral_convs.0.conv.bias',
                                   'mask_generator.pixel_decoder.output_convs.0.conv.bias']
    assert set(meta['ignored_source_keys']) == {
        'sem_seg_head.predictor.class_embed.weight', 'sem_seg_head.predictor.class_embed.bias',
        'sem_seg_head.predictor.query_feat.weight', 'criterion.empty_weight'}
    mg, src = model.mask_generator, 'sem_seg_head.'
    # 20 -> 10 positional queries, first rows.
    assert torch.equal(mg.query_embed.weight, sd[src + 'predictor.query_embed.weight'][:10])
    pd = mg.pixel_decoder
    assert torch.equal(pd.lateral_convs[0].conv.weight, sd[src + 'pixel_decoder.adapter_1.weight'])
    assert torch.equal(pd.lateral_convs[0].gn.bias, sd[src + 'pixel_decoder.adapter_1.norm.bias'])
    assert torch.equal(pd.output_convs[0].conv.weight, sd[src + 'pixel_decoder.layer_1.weight'])
    assert not pd.lateral_convs[0].conv.bias.any() and not pd.output_convs[0].conv.bias.any()
    model.eval()
    d = DEC['dims']
    query, qpos = torch.randn(1, 4, d), torch.randn(1, 4, d)
    mem, pos = torch.randn(1, 6, d), torch.randn(1, 6, d)
    with torch.no_grad():
        ours = mg.transformer_decoder.layers[2](
            query=query, key=mem, value=mem, query_pos=qpos, key_pos=pos, cross_attn_mask=None,
            query_key_padding_mask=None, key_padding_mask=None)
        ref = mask2former_decoder_layer(sd, src + 'predictor.', 2, query, qpos, mem, pos)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
        x = torch.randn(1, 16, 2 * SWIN['embed'])
        ours, _ = model.backbone.stages[1].downsample(x, (4, 4))
    p = 'backbone.layers.1.downsample.'
    torch.testing.assert_close(ours, official_patch_merging(
        x, (4, 4), sd[p + 'norm.weight'], sd[p + 'norm.bias'], sd[p + 'reduction.weight']),
        atol=1e-5, rtol=1e-4)


def test_mask2former_d2_refuses_incomplete_checkpoint(tmp_path):
    sd = d2_state_dict()
    key = 'sem_seg_head.predictor.transformer_ffn_layers.2.linear2.weight'
    sd.pop(key)
    pkl, out = str(tmp_path / 'model_final.pkl'), tmp_path / 'm2f_init.pth'
    write_d2_pickle(pkl, sd)
    with pytest.raises(ConversionError, match='transformer_decoder.layers.2.ffn.layers.1.weight'):
        convert_mask2former_d2(pkl, str(out), TINY_CONFIG, logger=lambda *a: None)
    assert sorted(os.listdir(tmp_path)) == ['model_final.pkl']
