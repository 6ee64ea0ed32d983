"""Loss normalisers under data parallelism, simulated in one process: the mean of the gradients
of two half batches, each normalised with the counts averaged over both halves (what DDP with
PSALM's all-reduce computes), equals the gradient of the whole batch, for every condition type
whose computation does not depend on the random stream, and for the LLM loss."""
import pytest
import torch
from mmengine.structures import InstanceData

import psalm.models.psalm as psalm_module
from _psalm_inputs import build_tiny, make_sample


@pytest.fixture(scope='module')
def model():
    # GroupNorm projector (BatchNorm statistics are per batch), fixed matching/sampling points.
    m = build_tiny(**{'model.projector.norm_cfg': dict(type='GN', num_groups=8),
                      'model.criterion.point_sampling': 'grid',
                      'model.prompt_encoder.shuffle_categories': False})
    return m.train()


def _grads(model, samples, monkeypatch, counts=None):
    """Gradients of the summed losses; ``counts`` replaces the all-reduced normalisers."""
    seen = []

    def fake_reduce(local, device):
        seen.append(dict(local))
        return dict(counts) if counts is not None else dict(local)

    monkeypatch.setattr(psalm_module, 'reduce_mean_counts', fake_reduce)
    # Each sample keeps its image whatever batch it is in.
    images = [torch.randint(0, 256, (3, *s.metainfo['img_shape']), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(s.metainfo['img_seed']))
              for s in samples]
    batch = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    model.zero_grad(set_to_none=True)
    sum(model.loss(batch['inputs'], batch['data_samples']).values()).backward()
    assert len(seen) == 1, 'every step must join exactly one all-reduce'
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, seen[0]


@pytest.mark.parametrize('task', ['panoptic', 'referring', 'conversation'])
def test_half_batches_with_global_counts_equal_the_whole_batch(model, monkeypatch, task):
    extra = dict(panoptic=[dict(categories=['a', 'b', 'c']),
                           dict(categories=['a', 'b', 'c', 'd', 'e'])],
                 referring=[dict(num_targets=1), dict(num_targets=2)]).get(task)
    if task == 'conversation':
        extra = [dict(), dict(conversation=[
            {'from': 'human', 'value': '<image>\nWhat is in the image? Describe it.'},
            {'from': 'gpt', 'value': 'Two rectangles on a noisy background, one above the other.'}])]
    samples = [make_sample(task, (96, 112), 0, img_seed=0, **extra[0]),
               make_sample(task, (112, 96), 1, img_seed=1, **extra[1])]
    if task == 'panoptic':  # one target mask in the second half, two in the first
        gt = samples[1].gt_instances
        samples[1].gt_instances = InstanceData(labels=gt.labels[:1], masks=gt.masks[[0]])
    whole, _ = _grads(model, samples, monkeypatch)
    _, c0 = _grads(model, samples[:1], monkeypatch)
    _, c1 = _grads(model, samples[1:], monkeypatch)
    assert c0 != c1, 'the halves must differ in their counts for the test to show anything'
    mean = {k: (c0[k] + c1[k]) / 2 for k in c0}
    g0, _ = _grads(model, samples[:1], monkeypatch, mean)
    g1, _ = _grads(model, samples[1:], monkeypatch, mean)
    assert whole.keys() == g0.keys() | g1.keys()
    for name, g in whole.items():
        ddp = (g0.get(name, torch.zeros_like(g)) + g1.get(name, torch.zeros_like(g))) / 2
        # Float noise only (padding changes the summation order); a per-half normaliser is off
        # by tens of percent.
        err = ((ddp - g).norm() / g.norm().clamp_min(1e-8)).item()
        assert err < 1e-3 or (ddp - g).abs().max() < 1e-6, f'{name}: relative error {err:.2e}'


def test_a_text_only_batch_joins_the_all_reduce_with_zero_counts(model, monkeypatch):
    conv = [make_sample('conversation', (96, 112), 0, img_seed=0)]
    _, counts = _grads(model, conv, monkeypatch)
    assert counts['llm_tokens'] > 0
    assert all(v == 0 for k, v in counts.items() if k != 'llm_tokens')
    _, counts = _grads(model, [make_sample('referring', (96, 112), 0, img_seed=0)], monkeypatch)
    assert counts['llm_tokens'] == 0 and counts['masks'] == 1 and counts['sentence_pos'] == 1
