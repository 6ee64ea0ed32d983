"""Backbone and LLM swaps through config, and the full-size model's parameter counts."""
import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from psalm.utils import empty_weights

from _psalm_inputs import FULL_CONFIG, build_tiny, make_batch, make_sample


def _train_step_reaches(model, task='referring'):
    model.train()
    batch = make_batch(model, [make_sample(task, (96, 80), 0), make_sample(task, (64, 96), 1)], True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    sum(losses.values()).backward()
    assert any(p.grad is not None for p in model.language_model.parameters())
    assert all(p.grad is None for p in model.backbone.parameters())


def test_resnet_backbone_by_config():
    model = build_tiny(model=dict(backbone=dict(
        _delete_=True, type='ResNet', depth=18, base_channels=16, num_stages=4,
        out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
        style='pytorch', init_cfg=None)))
    assert type(model.backbone).__name__ == 'ResNet'
    _train_step_reaches(model)


def test_llama_family_llm_by_config():
    model = build_tiny(model=dict(language_model=dict(model=dict(
        _delete_=True, type='llama', vocab_size=50304, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, bos_token_id=50256, eos_token_id=50256))))
    assert type(model.language_model.model).__name__ == 'LlamaForCausalLM'
    _train_step_reaches(model, 'interactive')


def test_tokenizer_grows_embeddings_only_when_needed():
    small = build_tiny(model=dict(language_model=dict(model=dict(vocab_size=50260))))
    llm = small.language_model
    assert len(llm.tokenizer) == 50259  # GPT-2 BPE + [PAD] + [SEG]
    assert llm.model.get_input_embeddings().num_embeddings == 50260  # not shrunk
    assert llm.seg_token_id == 50258 and llm.pad_token_id == 50257
    assert llm.tokenize('[SEG]') == [llm.seg_token_id]

    grown = build_tiny(model=dict(language_model=dict(model=dict(vocab_size=50257)))).language_model
    emb = grown.model.get_input_embeddings().weight
    assert emb.shape[0] == 50259 and grown.model.lm_head.weight.shape[0] == 50259
    # New rows start near the mean of the old ones (the reference's smart resize).
    assert torch.allclose(emb[50257:].mean(0), emb[:50257].mean(0), atol=0.05)


def _swin_block(c, heads, window=12):
    return 12 * c * c + 13 * c + (2 * window - 1) ** 2 * heads


def _expected_counts():
    """Parameter counts of the released model's parts, from the architecture's formulas."""
    v, d, inter, layers = 50297, 2048, 8192, 24
    phi_layer = 4 * (d * d + d) + (d * inter + inter) + (inter * d + d) + 2 * d
    phi = v * d + layers * phi_layer + 2 * d + v * d  # embeddings, layers, final LN, LM head
    swin = 3 * 128 * 16 + 128 + 2 * 128
    for c, depth, heads in ((128, 2, 4), (256, 2, 8), (512, 18, 16), (1024, 2, 32)):
        swin += depth * _swin_block(c, heads) + 2 * c  # blocks + output norm
        if c != 1024:
            swin += 8 * c * c + 8 * c  # patch merging
    projector = (1024 * 2048 * 9 + 2 * 2048) + (2048 * 2048 * 9 + 2 * 2048) \
        + (1024 * 2048 + 2 * 2048) + (2048 * 2048 + 2048)
    e = 256
    msda = (e * 192 + 192) + (e * 96 + 96) + 2 * (e * e + e)
    encoder_layer = msda + 2 * 2 * e + (e * 1024 + 1024) + (1024 * e + e)
    pixel_decoder = sum(c * e + e + 2 * e for c in (1024, 512, 256)) + 6 * encoder_layer \
        + 3 * e + (128 * e + e + 2 * e) + (e * e * 9 + e + 2 * e) + (e * e + e)
    attn = 4 * e * e + 4 * e
    decoder_layer = 2 * attn + (e * 2048 + 2048) + (2048 * e + e) + 3 * 2 * e
    mask_decoder = pixel_decoder + 9 * decoder_layer + 2 * e + 100 * e + 3 * e \
        + 3 * (e * e + e) + 3 * 2 * (e * e + e)
    heads = 4 * (d * e + e) + 100 * d
    return dict(language_model=phi, backbone=swin, projector=projector,
                mask_generator=mask_decoder, prompt_encoder=heads)


def test_full_size_model_parameter_counts_on_meta_device():
    register_all_modules()
    cfg = Config.fromfile(FULL_CONFIG)
    with empty_weights():
        model = MODELS.build(cfg.model)
    counts = {name: sum(p.numel() for p in getattr(model, name).parameters())
              for name in ('language_model', 'backbone', 'projector', 'mask_generator',
                           'prompt_encoder')}
    assert counts == _expected_counts()
    assert all(p.device.type == 'meta' for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())
    assert total == sum(counts.values())
    assert 1.55e9 < total < 1.7e9  # "1.6B parameters" (released model card)
    assert len(model.language_model.tokenizer) == 50297
    assert model.language_model.seg_token_id == 50296
    assert model.language_model.model.lm_head.bias is None


def test_swin_large_variant_by_inheritance():
    register_all_modules()
    cfg = Config.fromfile(FULL_CONFIG.replace('swinb', 'swinl'))
    with empty_weights():
        model = MODELS.build(cfg.model)
    assert model.backbone.num_features == [192, 384, 768, 1536]
    assert model.projector.layer1[0].conv1.in_channels == 1536
    assert model.language_model.hidden_size == 2048


def test_gradient_checkpointing_and_eager_attention_by_config():
    model = build_tiny(model=dict(language_model=dict(gradient_checkpointing=True,
                                                      attn_implementation='eager')))
    assert model.language_model.gradient_checkpointing
    assert any(getattr(m, 'gradient_checkpointing', False) is True  # HF's own flag
               for m in model.language_model.model.modules())
    assert model.language_model.model.config._attn_implementation == 'eager'
    _train_step_reaches(model, 'panoptic')
