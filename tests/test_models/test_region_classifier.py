"""RegionClassifier, the backbone pretraining of the shapes benchmark, and its hand-over to PSALM."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

from psalm.models import RegionClassifier, mask_pooled_features

register_all_modules()
TINY_RESNET = dict(type='ResNet', depth=18, base_channels=4, out_indices=(0, 1, 2, 3),
                   norm_eval=False, init_cfg=None)


def test_mask_pooled_features_weights_cells_by_coverage():
    # (C=1, 2, 2) features of a 4x4 canvas (stride 2): cell values 1, 2 / 3, 4.
    feat = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    masks = torch.zeros(2, 4, 4)
    masks[0, :2, :2] = 1  # all of cell (0, 0)
    masks[0, 0, 2:] = 1  # half of cell (0, 1)
    masks[1, 3, 3] = 1  # a quarter of cell (1, 1)
    out = mask_pooled_features(feat, masks)
    # mask 0: cover 1 and 0.5 -> (1 * 1 + 0.5 * 2) / 1.5; mask 1: only cell (1, 1)
    torch.testing.assert_close(out, torch.tensor([[2.0 / 1.5], [4.0]]))
    assert mask_pooled_features(feat, torch.zeros(1, 4, 4)).abs().sum() == 0  # empty: zeros


def _samples(labels_per_image, size=64):
    rng = np.random.default_rng(0)
    samples = []
    for labels in labels_per_image:
        masks = np.zeros((len(labels), size, size), np.uint8)
        for i in range(len(labels)):
            y, x = rng.integers(0, size - 16, 2)
            masks[i, y:y + 16, x:x + 16] = 1
        s = DetDataSample()
        s.set_metainfo(dict(img_shape=(size, size), batch_input_shape=(size, size)))
        s.gt_instances = InstanceData(masks=BitmapMasks(masks, size, size),
                                      labels=torch.tensor(labels))
        samples.append(s)
    return samples


def test_region_classifier_loss_predict_and_errors():
    torch.manual_seed(0)
    model = RegionClassifier(TINY_RESNET, in_channels=[4, 8, 16, 32], num_classes=3,
                             levels=(1, 2))
    model.init_weights()
    inputs = torch.randn(2, 3, 64, 64)
    samples = _samples([[0, 2], [1]])
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_cls_level1', 'loss_cls_level2', 'acc_level1', 'acc_level2'}
    total = losses['loss_cls_level1'] + losses['loss_cls_level2']
    # random init: each level's cross-entropy near log(3), halved (mean over the two levels)
    assert 0.3 < total.item() < 3.0
    total.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0  # the stem
    assert model.backbone.layer4[0].conv1.weight.grad is None  # level 3 is not classified

    model.eval()
    with torch.no_grad():
        out = model(inputs, _samples([[0, 2], [1]]), mode='predict')
    assert [len(s.pred_instances) for s in out] == [2, 1]
    assert all(((s.pred_instances.scores > 0) & (s.pred_instances.scores <= 1)).all() for s in out)
    assert len(model(inputs, mode='tensor')) == 4

    with pytest.raises(ValueError, match=r'gt_instances.labels must lie in \[0, 3\)'):
        model(inputs, _samples([[0, 3], [1]]), mode='loss')
    with pytest.raises(ValueError, match='levels'):
        RegionClassifier(TINY_RESNET, in_channels=[4, 8, 16, 32], num_classes=3, levels=(4, ))
    with pytest.raises(ValueError, match='needs data_samples'):
        model(inputs, mode='loss')


def test_appearance_targets_are_mean_colour_and_log_area():
    inputs = torch.zeros(1, 3, 8, 8)
    inputs[0, :, :, :4] = torch.tensor([1.0, -1.0, 0.5]).view(3, 1, 1)  # left half
    masks = torch.zeros(2, 8, 8)
    masks[0, :4, :2] = 1  # 8 px, all on the left half
    masks[1, :, 2:6] = 1  # 32 px, half on each side
    target = RegionClassifier.appearance_targets(inputs, [masks])
    expected = torch.tensor([[1.0, -1.0, 0.5, np.log(8 / 64)], [0.5, -0.5, 0.25, np.log(0.5)]],
                            dtype=torch.float32)
    torch.testing.assert_close(target, expected)
    assert RegionClassifier.appearance_targets(inputs, []).shape == (0, 4)


def test_appearance_regression_trains_every_level_and_is_off_by_default():
    torch.manual_seed(0)
    model = RegionClassifier(TINY_RESNET, in_channels=[4, 8, 16, 32], num_classes=3,
                             levels=(1, 3), appearance_weight=2.0)
    model.init_weights()
    inputs = torch.randn(2, 3, 64, 64)
    losses = model(inputs, _samples([[0, 2], [1]]), mode='loss')
    assert {'loss_appearance_level1', 'loss_appearance_level3'} <= set(losses)
    losses['loss_appearance_level3'].backward()
    assert model.appearance_heads[1].weight.grad.abs().sum() > 0
    # reaches stride 32 (the residual branches start at zero, ResNet's init: check their norm)
    assert model.backbone.layer4[0].norm2.weight.grad.abs().sum() > 0
    # the regression is weighted: same model and batch, weight 2 vs 1
    model.appearance_weight = 1.0
    half = model(inputs, _samples([[0, 2], [1]]), mode='loss')
    torch.testing.assert_close(half['loss_appearance_level1'] * 2,
                               losses['loss_appearance_level1'].detach())
    # without segments: zero with a graph, as the classification loss
    empty = model(inputs, _samples([[], []]), mode='loss')
    assert empty['loss_appearance_level1'].item() == 0
    assert empty['loss_appearance_level1'].requires_grad

    plain = RegionClassifier(TINY_RESNET, in_channels=[4, 8, 16, 32], num_classes=3)
    assert plain.appearance_heads is None
    plain_losses = plain(inputs, _samples([[0], [1]]), mode='loss')
    assert not any(k.startswith('loss_appearance') for k in plain_losses)
    with pytest.raises(ValueError, match='appearance_weight'):
        RegionClassifier(TINY_RESNET, in_channels=[4, 8, 16, 32], num_classes=3,
                         appearance_weight=-1)


def test_pretrained_backbone_is_loaded_by_the_shapes_config(tmp_path, repo_root):
    """Stage 0's checkpoint goes into PSALM through the shapes config's Pretrained init_cfg:
    the keys match (prefix ``backbone.``) and every backbone weight arrives."""
    cfg_dir = osp.join(repo_root, 'configs', 'psalm')
    pre_cfg = Config.fromfile(osp.join(cfg_dir, 'psalm_tiny_shapes_backbone-pretrain.py'))
    torch.manual_seed(1)
    pretrainer = MODELS.build(pre_cfg.model)
    pretrainer.init_weights()
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=pretrainer.state_dict(), meta=dict()), ckpt)

    cfg = Config.fromfile(osp.join(cfg_dir, 'psalm_tiny_phi_shapes_joint.py'))
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    torch.manual_seed(2)
    psalm = MODELS.build(cfg.model)
    psalm.init_weights()
    expected = pretrainer.backbone.state_dict()
    loaded = psalm.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(loaded[key], value, msg=key)
