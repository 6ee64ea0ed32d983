"""tools/analysis_tools/train_memory.py: states counted exactly, saved activations measured."""
import json
import os.path as osp

import pytest
import torch
from torch import nn

from psalm.utils import import_script


def _tool(repo_root):
    return import_script(osp.join(repo_root, 'tools', 'analysis_tools', 'train_memory.py'))


def test_meter_counts_saved_tensors_by_hand(repo_root):
    tool = _tool(repo_root)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
    meter = tool.SavedTensorMeter(model, components=['0', '1'])
    x = torch.randn(4, 8, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack):
        model(x).sum().backward()
    # Linear keeps its input (4x8 fp32; its weight is a parameter: not counted), ReLU its
    # output (4x16 fp32).
    assert dict(meter.bytes) == {'0': 4 * 8 * 4, '1': 4 * 16 * 4}


def test_states_per_gpu_by_hand(repo_root):
    tool = _tool(repo_root)
    states = tool.states_per_gpu(total=2**30, trainable=2**28, gpus=8)
    assert states['ddp'] == 4 + 4 * 0.25 + 8 * 0.25  # fp32 weights, grads, 2 AdamW moments
    assert states['zero2_or_fsdp_shard_grad_op'] == 4 + 12 * 0.25 / 8


def test_tiny_config_end_to_end(tmp_path, repo_root, run_tool):
    tool = osp.join(repo_root, 'tools', 'analysis_tools', 'train_memory.py')
    config = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
    results = {}
    for ckpt in (False, True):
        out = tmp_path / f'ckpt{ckpt}.json'
        run_tool([tool, config, '--autocast', 'none', '--num-categories', '5', '--num-gts', '3',
                  '--gpus', '4', '--out', out, '--cfg-options',
                  f'model.language_model.gradient_checkpointing={ckpt}'], tmp_path)
        results[ckpt] = json.loads(out.read_text())
    plain, ckpt = results[False], results[True]
    assert plain['gradient_checkpointing'] is False and ckpt['gradient_checkpointing'] is True
    total, trainable = plain['parameters_total'], plain['parameters_trainable']
    assert 0 < trainable < total  # the backbone is frozen
    assert plain['model_states_gib']['ddp'] * 2**30 == pytest.approx(4 * total + 12 * trainable)
    act = plain['activation_bytes_per_image']
    for part in ('projector', 'language_model', 'mask_generator', 'criterion'):
        assert act.get(part, 0) > 0, part
    assert 'backbone' not in act  # frozen: runs without autograd
    # Checkpointed LLM layers keep only their inputs.
    assert 0 < ckpt['activation_bytes_per_image']['language_model'] < act['language_model']
    assert plain['estimate_gib_per_gpu']['ddp'] == pytest.approx(
        plain['model_states_gib']['ddp'] + 2 * plain['activations_gib_per_image'])


def test_kernel_like_deform_attn_keeps_kernel_inputs_only_and_same_gradients(repo_root):
    from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch
    tool = _tool(repo_root)
    gen = torch.Generator().manual_seed(0)
    shapes = torch.tensor([[4, 4], [2, 2]])
    value = torch.randn(1, 20, 2, 8, generator=gen, requires_grad=True)
    locations = torch.rand(1, 5, 2, 2, 3, 2, generator=gen, requires_grad=True)
    weights = torch.rand(1, 5, 2, 2, 3, generator=gen, requires_grad=True)
    grad_out = torch.randn(1, 5, 16, generator=gen)
    expected = multi_scale_deformable_attn_pytorch(value, shapes, locations, weights)
    expected_grads = torch.autograd.grad(expected, [value, locations, weights], grad_out)

    saved = []
    with tool.kernel_like_deform_attn(), torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        import mmcv.ops.multi_scale_deform_attn as msda
        out = msda.multi_scale_deformable_attn_pytorch(value, shapes, locations, weights)
    assert torch.allclose(out, expected)
    assert [t.shape for t in saved] == [value.shape, shapes.shape, locations.shape, weights.shape]
    grads = torch.autograd.grad(out, [value, locations, weights], grad_out)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads, expected_grads))
    assert msda.multi_scale_deformable_attn_pytorch is multi_scale_deformable_attn_pytorch
