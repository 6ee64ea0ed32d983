"""Instruction following: greedy text generation for a VQA-style prompt (``pred_text``).

The answer of ``PSALM.predict`` is checked against a greedy decoding written out step by step
(argmax of the next-token logits, no cache), and a left-padded batch of two questions against the
questions asked one by one.
"""
import pytest
import torch

from _psalm_inputs import build_tiny, make_batch, make_sample

MAX_NEW = 6


@pytest.fixture(scope='module')
def model():
    m = build_tiny()
    m.eval()
    m.generation_cfg = dict(max_new_tokens=MAX_NEW)
    return m


def _vqa(seed, question, hw=(64, 80)):
    return make_sample('conversation', hw, seed, conversation=[
        {'from': 'human', 'value': f'<image>\n{question}\nAnswer the question using a single '
                                   'word or phrase.'}])


@torch.no_grad()
def _greedy_by_hand(model, sample, seed):
    batch = make_batch(model, [sample], False, seed=seed)
    _, prompts = model._prompt(batch['inputs'], batch['data_samples'], for_generation=True)
    llm = model.language_model
    embeds, mask = prompts.inputs_embeds, prompts.attention_mask
    assert bool(mask.all())  # a single sample has no padding
    ids = []
    for _ in range(MAX_NEW):
        logits = llm.model(inputs_embeds=embeds, attention_mask=mask).logits[:, -1]
        token = int(logits.argmax(-1))
        if token == llm.eos_token_id:
            break
        ids.append(token)
        embeds = torch.cat([embeds, llm.embed_tokens(torch.tensor([[token]]))], 1)
        mask = torch.cat([mask, mask.new_ones((1, 1))], 1)
    return llm.tokenizer.decode(ids, skip_special_tokens=True)


def test_vqa_answer_is_the_greedy_decoding(model):
    sample = _vqa(0, 'What shape is in the image?')
    expected = _greedy_by_hand(model, sample, seed=0)
    batch = make_batch(model, [_vqa(0, 'What shape is in the image?')], False, seed=0)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    assert out[0].pred_text == expected
    assert 'pred_instances' not in out[0]  # a text answer, no masks


def test_batched_questions_match_single_questions(model):
    questions = ['What shape is in the image?', 'Which colour is the triangle?']
    singles = []
    for k, q in enumerate(questions):
        batch = make_batch(model, [_vqa(k, q)], False, seed=k)
        with torch.no_grad():
            singles.append(model.predict(batch['inputs'], batch['data_samples'])[0].pred_text)
    assert singles[0] != singles[1]  # so that an answer given to the wrong sample shows
    # One batch, prompts of different lengths (left padding), images drawn as above.
    samples = [_vqa(k, q) for k, q in enumerate(questions)]
    inputs = []
    for k, s in enumerate(samples):
        gen = torch.Generator().manual_seed(k)
        inputs.append(torch.randint(0, 256, (3, *s.metainfo['img_shape']), generator=gen,
                                    dtype=torch.uint8))
    batch = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), False)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    assert [s.pred_text for s in out] == singles


def test_llm_loss_is_the_next_token_cross_entropy_over_targets(model):
    """The LM head runs only at target positions; the loss must equal the plain formula over the
    full logits (shifted by one, -100 ignored), also with right padding and no targets."""
    llm = model.language_model
    torch.manual_seed(0)
    embeds = torch.randn(2, 7, llm.hidden_size)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    labels = torch.full((2, 7), -100)
    labels[0, 3:6] = torch.tensor([11, 12, 13])
    labels[1, 2:4] = torch.tensor([21, 22])
    out = llm(embeds, mask, labels)
    logits = llm.model(inputs_embeds=embeds, attention_mask=mask).logits[:, :-1]
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                 labels[:, 1:].flatten(), ignore_index=-100)
    torch.testing.assert_close(out['loss'], expected)
    assert out['num_tokens'] == 5
    none = llm(embeds, mask, torch.full((2, 7), -100))
    assert torch.isnan(none['loss']) and none['num_tokens'] == 0
