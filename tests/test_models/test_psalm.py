"""The tiny PSALM model: loss and predict for every condition type, batch size 2, CPU."""
import pytest
import torch

from _psalm_inputs import build_tiny, make_batch, make_sample


@pytest.fixture(scope='module')
def model():
    return build_tiny()


def _grads(model, batch):
    model.train()
    model.zero_grad(set_to_none=True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total), losses
    total.backward()
    return losses


def _has_grad(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def _check_trainable_parts(model, conditioned=True):
    assert _has_grad(model.language_model), 'no gradient reached the LLM'
    assert _has_grad(model.projector), 'no gradient reached the projector'
    if conditioned:
        assert model.prompt_encoder.mask_tokens.grad is not None
        assert model.prompt_encoder.mask_tokens.grad.abs().sum() > 0, 'mask tokens got no gradient'
        assert _has_grad(model.mask_generator), 'no gradient reached the mask generator'
    assert all(p.grad is None for p in model.backbone.parameters()), 'frozen backbone got grads'
    assert not model.backbone.training, 'a frozen backbone must stay in eval mode'


def test_category_condition_loss_and_predict(model):
    samples = [make_sample('panoptic', (100, 120), 0, categories=['red circle', 'square', 'grass']),
               make_sample('panoptic', (128, 90), 1,
                           categories=['a big green triangle', 'wall', 'floor', 'road', 'sky'])]
    losses = _grads(model, make_batch(model, samples, True))
    assert {'loss_category', 'loss_mask', 'loss_dice', 'd0.loss_category'} <= set(losses)
    assert len([k for k in losses if k.endswith('loss_dice')]) == 4  # 3 layers + the initial set
    _check_trainable_parts(model)

    model.eval()
    samples = [make_sample('panoptic', (100, 120), 0), make_sample('panoptic', (128, 90), 1)]
    batch = make_batch(model, samples, False)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    for s in out:
        h, w = s.metainfo['ori_shape']
        assert s.pred_panoptic_seg.sem_seg.shape == (1, h, w)
        assert s.pred_sem_seg.sem_seg.shape == (1, h, w)
        assert int(s.pred_sem_seg.sem_seg.max()) < len(s.metainfo['categories'])
        assert s.pred_instances.masks.shape[1:] == (h, w)
        assert s.pred_instances.bboxes.shape[1] == 4


def test_category_shuffle_keeps_canonical_order(model):
    """Category embeddings come back in canonical order whatever the prompt order."""
    torch.manual_seed(0)
    enc = model.prompt_encoder
    samples = [make_sample('panoptic', (64, 64), 0, categories=['cat', 'dog', 'bird'])]
    batch = make_batch(model, samples, True)
    model.eval()
    with torch.no_grad():
        _, prompts = model._prompt(batch['inputs'], batch['data_samples'])
        tokens = prompts.inputs_embeds
    # Each pooled row covers exactly the tokens of its own name plus [SEG].
    llm = model.language_model
    for row, name in enumerate(['cat', 'dog', 'bird', 'background']):
        pos = prompts.pooling[0][row].nonzero().flatten()
        expected = llm.embed_tokens(torch.tensor(llm.tokenize(name) + [llm.seg_token_id]))
        torch.testing.assert_close(tokens[0, pos], expected)
    model.train()
    with torch.no_grad():
        _, shuffled = model._prompt(batch['inputs'], batch['data_samples'])
    for row in range(4):
        a = prompts.pooling[0][row].nonzero().flatten()
        b = shuffled.pooling[0][row].nonzero().flatten()
        torch.testing.assert_close(shuffled.inputs_embeds[0, b], tokens[0, a])
    assert enc.shuffle_categories


def test_sentence_condition_loss_and_predict(model):
    samples = [make_sample('referring', (100, 120), 0, text='left square'),
               make_sample('gres', (128, 90), 1, text='all the objects that are blue or big',
                           num_targets=2)]
    losses = _grads(model, make_batch(model, samples, True))
    assert 'loss_sentence' in losses and 'd0.loss_sentence' in losses
    _check_trainable_parts(model)

    # A no-target gRES sample alone: no mask to match, the sentence loss still trains.
    _grads(model, make_batch(model, [make_sample('gres', (90, 90), 2, num_targets=0),
                                     make_sample('gres', (90, 90), 3, num_targets=0)], True))

    model.eval()
    batch = make_batch(model, [make_sample('referring', (100, 120), 0),
                               make_sample('gres', (128, 90), 1, text='nothing here')], False)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    for s in out:
        h, w = s.metainfo['ori_shape']
        assert s.pred_instances.masks.shape == (1, h, w)
    assert out[1].pred_instances.no_target.dtype == torch.bool


@pytest.mark.parametrize('kinds', [(['point', 'scribble'], ['box', 'mask', 'point']),
                                   (['mask'], ['scribble', 'box'])])
def test_visual_prior_condition_loss_and_predict(model, kinds):
    samples = [make_sample('interactive', (100, 120), 0, prompt_kinds=kinds[0]),
               make_sample('interactive', (128, 90), 1, prompt_kinds=kinds[1])]
    losses = _grads(model, make_batch(model, samples, True))
    assert 'loss_region' in losses
    _check_trainable_parts(model)

    model.eval()
    batch = make_batch(model, [make_sample('interactive', (100, 120), 0, prompt_kinds=kinds[0]),
                               make_sample('interactive', (128, 90), 1, prompt_kinds=kinds[1])],
                       False)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    for s, k in zip(out, kinds):
        h, w = s.metainfo['ori_shape']
        assert s.pred_instances.masks.shape == (len(k), h, w)
        assert s.pred_instances.labels.tolist() == list(range(len(k)))


def test_text_only_batch(model):
    samples = [make_sample('conversation', (96, 96), 0),
               make_sample('conversation', (96, 96), 1, conversation=[
                   {'from': 'human', 'value': 'What colour is the sky on a clear day?'},
                   {'from': 'gpt', 'value': 'Blue.'},
                   {'from': 'human', 'value': 'And at night?'},
                   {'from': 'gpt', 'value': 'Dark, almost black.'}])]
    losses = _grads(model, make_batch(model, samples, True))
    assert set(losses) == {'loss_llm'}
    assert _has_grad(model.language_model)
    assert _has_grad(model.projector)  # the first sample attends to image tokens
    assert all(p.grad is None for p in model.mask_generator.parameters())

    model.eval()
    question = [{'from': 'human', 'value': '<image>\nWhat is in the image? <seg> <cls>'}]
    batch = make_batch(model, [make_sample('conversation', (96, 96), 0, conversation=question),
                               make_sample('conversation', (64, 80), 1, conversation=[
                                   {'from': 'human', 'value': 'Say something.'}])], False)
    model.generation_cfg = dict(max_new_tokens=4)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    assert all(isinstance(s.pred_text, str) for s in out)


def test_tensor_mode_returns_prediction_sets(model):
    model.eval()
    batch = make_batch(model, [make_sample('referring', (64, 64), 0)], False)
    with torch.no_grad():
        outs = model(batch['inputs'], batch['data_samples'], mode='tensor')
    assert len(outs) == 4
    assert outs[-1]['mask_logits'].shape == (1, 10, 32, 32)
    assert outs[-1]['scores'][0].shape == (10, 1)


def test_bad_samples_raise_clear_errors(model):
    model.eval()
    with pytest.raises(ValueError, match='text'):
        batch = make_batch(model, [make_sample('referring', (64, 64), 0, text='   ')], False)
        model.predict(batch['inputs'], batch['data_samples'])
    with pytest.raises(KeyError, match='task'):
        sample = make_sample('referring', (64, 64), 0)
        sample.set_metainfo(dict(task='detect-all'))
        batch = make_batch(model, [sample], False)
        model.predict(batch['inputs'], batch['data_samples'])
