import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from psalm.engine.hooks import ConditionPathInitHook
from psalm.testing.tiny_eval import build_random_model


def build_tiny(repo_root):
    config = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
    return build_random_model(Config.fromfile(config).model)


def _runner(model, iteration):
    return SimpleNamespace(model=model, iter=iteration,
                           logger=MMLogger.get_instance('test_condition_path_init_hook'))


def _path(model, kind):
    params = list(model.prompt_encoder.condition_proj(kind).parameters())
    params += list(model.mask_generator.score_mlps[kind].parameters())
    return [p.detach().clone() for p in params]


def test_copies_category_path_onto_sentence_path_at_its_iteration_only(repo_root):
    model = build_tiny(repo_root)
    category = _path(model, 'category')
    sentence = _path(model, 'sentence')
    region = _path(model, 'visual_prior')
    assert not all(torch.equal(a, b) for a, b in zip(category, sentence))
    hook = ConditionPathInitHook(src='category', dst='sentence', at_iter=5)

    hook.before_train_iter(_runner(model, 4), 0)
    assert all(torch.equal(a, b) for a, b in zip(_path(model, 'sentence'), sentence))
    hook.before_train_iter(_runner(model, 5), 0)
    copied = _path(model, 'sentence')
    assert all(torch.equal(a, b) for a, b in zip(copied, category))
    # a copy, not shared tensors: training the sentence path leaves the category path alone
    model.prompt_encoder.sentence_proj.weight.data.add_(1.0)
    assert torch.equal(model.prompt_encoder.category_proj.weight, category[0])
    # the encoder names its projections for the scored kinds only
    with pytest.raises(ValueError, match="kind 'none'"):
        model.prompt_encoder.condition_proj('none')
    # the third path is untouched
    assert all(torch.equal(a, b) for a, b in zip(_path(model, 'visual_prior'), region))


@pytest.mark.parametrize('kwargs, message', [
    (dict(src='class'), "src='class'"),
    (dict(dst='region'), "dst='region'"),
    (dict(src='sentence', dst='sentence'), "both 'sentence'"),
])
def test_rejects_unknown_or_equal_kinds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConditionPathInitHook(**kwargs)
