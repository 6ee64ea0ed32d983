"""Memory savers and mixed precision on the tiny model (CPU): LoRA on the LLM (peft), LLM
gradient checkpointing, the frozen LLM of stage 1, deformable attention kept in fp32 under
bf16 autocast, and the training-at-scale configs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_state_dict

from _psalm_inputs import REPO, build_tiny, make_batch, make_sample

LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0,
            target_modules=['q_proj', 'k_proj', 'v_proj', 'dense', 'fc1', 'fc2'])


def _config(name: str) -> Config:
    return Config.fromfile(osp.join(REPO, 'configs', 'psalm', f'psalm_swinb_phi15_{name}.py'))


def _backward(model, task: str = 'referring') -> dict:
    samples = [make_sample(task, (100, 120), 0), make_sample(task, (128, 90), 1)]
    batch = make_batch(model, samples, True)
    model.train()
    model.zero_grad(set_to_none=True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    total = sum(losses.values())
    assert torch.isfinite(total), losses
    total.backward()
    return losses


def _has_grad(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_lora_trains_only_the_adapters_of_the_llm():
    model = build_tiny(**{'model.language_model.lora': LORA})
    llm = model.language_model
    assert len(llm.lora_layers) == 2 * 6  # 2 layers x (q, k, v, dense, fc1, fc2)
    trainable = [n for n, p in llm.named_parameters() if p.requires_grad]
    assert trainable and all('.lora_' in n for n in trainable)
    _backward(model)
    for name, p in llm.named_parameters():
        assert (p.grad is not None) == ('.lora_' in name), name
    assert any(p.grad.abs().sum() > 0 for n, p in llm.named_parameters() if '.lora_B.' in n)
    # The rest of stage 2 trains as without LoRA; the frozen backbone gets nothing.
    assert _has_grad(model.projector) and _has_grad(model.mask_generator)
    assert model.prompt_encoder.mask_tokens.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())


def test_lora_loads_full_checkpoints_round_trips_and_merges(tmp_path):
    full = build_tiny().state_dict()  # e.g. a converted PSALM checkpoint, without adapters
    model = build_tiny(**{'model.language_model.lora': LORA})
    load_state_dict(model, full, strict=False)  # MMEngine's loader, as `load_from` uses it
    sd = model.state_dict()
    q = 'language_model.model.model.layers.0.self_attn.q_proj'
    assert torch.equal(sd[f'{q}.base_layer.weight'], full[f'{q}.weight'])
    assert torch.equal(sd[f'{q}.base_layer.bias'], full[f'{q}.bias'])
    with torch.no_grad():  # trained adapters (B starts at 0, which would hide a wrong merge)
        for n, p in model.language_model.named_parameters():
            if '.lora_B.' in n:
                p.normal_(0, 0.05)

    llm = model.language_model.eval()
    embeds, mask = torch.randn(2, 7, llm.hidden_size), torch.ones(2, 7, dtype=torch.long)
    expected = llm(embeds, mask)['hidden_states']
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'lora.pth')
    again = build_tiny(**{'model.language_model.lora': LORA})
    load_state_dict(again, torch.load(tmp_path / 'lora.pth')['state_dict'], strict=True)
    torch.testing.assert_close(again.language_model.eval()(embeds, mask)['hidden_states'],
                               expected)
    without_lora = llm.model.model.layers[0].self_attn.q_proj.base_layer(embeds)

    llm.merge_lora()
    assert not llm.lora_layers
    keys = set(model.state_dict())
    assert keys == set(full), sorted(keys ^ set(full))[:5]  # plain layers and names again
    torch.testing.assert_close(llm(embeds, mask)['hidden_states'], expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(llm.model.model.layers[0].self_attn.q_proj(embeds), without_lora)


def test_lora_and_frozen_exclude_each_other():
    with pytest.raises(ValueError, match='frozen'):
        build_tiny(**{'model.language_model.lora': LORA, 'model.language_model.frozen': True})
    with pytest.raises(ValueError, match='(?i)target.modules'):
        build_tiny(**{'model.language_model.lora': dict(LORA, target_modules=['no_such_layer'])})


def test_llm_gradient_checkpointing_recomputes_layers_with_the_same_gradients():
    calls, grads = {}, {}
    for checkpointing in (False, True):
        model = build_tiny(**{'model.language_model.gradient_checkpointing': checkpointing})
        # A sub-module: transformers re-runs the layer's `forward` itself, without hooks.
        fc1 = model.language_model.model.model.layers[0].mlp.fc1
        count = []
        handle = fc1.register_forward_hook(lambda *args: count.append(1))
        _backward(model, 'conversation')
        handle.remove()
        calls[checkpointing] = len(count)
        grads[checkpointing] = {n: p.grad.clone() for n, p in model.named_parameters()
                                if p.grad is not None}
    # Checkpointing keeps no layer activations: the backward pass runs the layer again.
    assert calls == {False: 1, True: 2}
    assert grads[False].keys() == grads[True].keys()
    for name, g in grads[False].items():
        torch.testing.assert_close(grads[True][name], g, atol=1e-6, rtol=1e-5)


def test_frozen_llm_stage1_trains_the_projector_only():
    model = build_tiny(**{'model.language_model.frozen': True})
    _backward(model, 'conversation')  # caption data: text output only
    trained = {n.split('.')[0] for n, p in model.named_parameters()
               if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained == {'projector'}, trained
    cfg = _config('stage1_llava-cc3m')
    assert cfg.model.language_model.frozen and cfg.model.freeze_backbone
    data = cfg.train_dataloader.dataset
    assert data.type == 'LLaVAInstructDataset' and data.ann_file == 'chat.json'
    assert cfg.train_dataloader.batch_size * 8 == 128  # the paper's batch on 8 GPUs
    assert cfg.optim_wrapper.optimizer.lr == 2e-3 and cfg.train_cfg.max_iters == 4650


def test_deformable_attention_stays_fp32_under_bf16_autocast():
    from mmcv.ops import MultiScaleDeformableAttention

    from psalm.models.pixel_decoder import FP32MultiScaleDeformableAttention
    torch.manual_seed(0)
    kwargs = dict(embed_dims=32, num_heads=4, num_levels=2, num_points=4, dropout=0.0,
                  batch_first=True)
    plain = MultiScaleDeformableAttention(**kwargs)
    plain.init_weights()
    island = FP32MultiScaleDeformableAttention(**kwargs)
    island.load_state_dict(plain.state_dict())
    shapes = torch.tensor([[8, 8], [4, 4]])
    inputs = dict(value=None, spatial_shapes=shapes, level_start_index=torch.tensor([0, 64]),
                  reference_points=torch.rand(2, 80, 2, 2))
    query = torch.randn(2, 80, 32)
    fp32 = plain(query, **inputs)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        kept = island(query, **inputs)
        lowered = plain(query, **inputs)
    assert kept.dtype == torch.float32
    torch.testing.assert_close(kept, fp32)  # the whole module ran in fp32
    assert (lowered.float() - fp32).abs().max() > 1e-3  # what autocast alone would give

    model = build_tiny()
    layers = model.mask_generator.pixel_decoder.encoder.layers
    assert all(isinstance(layer.self_attn, FP32MultiScaleDeformableAttention) for layer in layers)
    with torch.autocast('cpu', dtype=torch.bfloat16):  # a whole bf16 training step
        losses = _backward(model, 'panoptic')
    assert {'loss_category', 'loss_mask', 'loss_dice'} <= set(losses)
    assert _has_grad(model.mask_generator.pixel_decoder)


def test_paramwise_groups_of_the_joint_schedule():
    from mmengine.optim import build_optim_wrapper
    cfg = _config('joint')
    model = build_tiny(**{'model.freeze_backbone': False})
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    lrs = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        assert group['weight_decay'] == 0.0  # the reference uses no weight decay
        for p in group['params']:
            lrs[names[id(p)]] = group['lr']
    assert len(lrs) == len(names)
    assert all(lr == pytest.approx(base) for lr in lrs.values())  # one lr, as the reference
    # MMEngine's paramwise constructor gives every parameter its own group: any multiplier works.
    assert len(optim.optimizer.param_groups) == len(names)
    tuned = dict(cfg.optim_wrapper,
                 paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1),
                                                 'language_model': dict(lr_mult=0.5)}))
    optim = build_optim_wrapper(model, tuned)
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            mult = 0.1 if name.startswith('backbone') else \
                0.5 if name.startswith('language_model') else 1.0
            assert group['lr'] == pytest.approx(mult * base), name


@pytest.mark.parametrize('name', ['joint_bf16', 'joint_zero2', 'joint_fsdp', 'joint_lora-1gpu'])
def test_scale_configs(name, tmp_path):
    from mmengine.registry import STRATEGIES
    cfg = _config(name)
    assert cfg.model.language_model.gradient_checkpointing
    strategy = cfg.get('strategy')
    if name == 'joint_zero2':
        assert strategy.zero_optimization.stage == 2
        assert strategy.config.torch_autocast == dict(enabled=True, dtype='bfloat16')
        assert strategy.train_micro_batch_size_per_gpu == cfg.train_dataloader.batch_size
        assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'
        assert cfg.optim_wrapper.optimizer.lr == 6e-5 and 'paramwise_cfg' in cfg.optim_wrapper
        pytest.importorskip('deepspeed')  # not a test requirement (heavy)
        # work_dir: a strategy opens its log file there (default: ./work_dirs)
        built = STRATEGIES.build(dict(strategy, work_dir=str(tmp_path)))
        assert type(built).__name__ == 'DeepSpeedStrategy'
        return
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    if name == 'joint_fsdp':
        built = STRATEGIES.build(dict(strategy, work_dir=str(tmp_path)))  # logs there
        assert type(built).__name__ == 'FSDPStrategy'
        assert strategy.model_wrapper.use_orig_params
    else:
        assert strategy is None
    if name == 'joint_lora-1gpu':
        assert cfg.model.language_model.lora.r == 16
        assert cfg.optim_wrapper.accumulative_counts == 4
        assert cfg.load_from.endswith('psalm.pth')
