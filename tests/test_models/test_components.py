"""Unit tests of PSALM's parts with hand-computed expectations."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample

from psalm.models import (GRESPostProcessor, InstancePostProcessor, InteractivePostProcessor,
                          PanopticPostProcessor, PSALMCriterion, PSALMPixelDecoder,
                          ReferringPostProcessor, SemanticPostProcessor, SwinConvProjector,
                          region_pooling)
from psalm.models.condition_prompt import Condition
from psalm.structures import box_to_mask, point_to_mask, scribble_to_mask

BIG = 20.0  # a confident logit


def _sample(**meta):
    s = DetDataSample()
    s.set_metainfo(meta)
    return s


def test_projector_applies_conv2_twice_by_default():
    torch.manual_seed(0)
    proj = SwinConvProjector(in_channels=8, hidden_channels=16, out_channels=12).eval()
    x = torch.randn(2, 8, 6, 6)
    tokens = proj(x)
    assert tokens.shape == (2, 9, 12)
    block = proj.layer1[0]
    with torch.no_grad():
        out = block.relu(block.bn1(block.conv1(x)))
        out = block.bn2(block.conv2(block.conv2(out)))
        out = block.relu(out + block.downsample(x))
        expected = proj.fc(out.flatten(2).transpose(1, 2))
    torch.testing.assert_close(tokens, expected)
    block.repeat_conv2 = False
    assert not torch.allclose(proj(x), expected)
    names = {k for k, _ in proj.state_dict().items()}
    assert {'layer1.0.conv1.weight', 'layer1.0.bn1.running_mean', 'layer1.0.conv2.weight',
            'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight', 'fc.weight'} <= names


def test_pixel_decoder_reference_adapter_has_bias_and_relu():
    kwargs = ConfigDict(in_channels=[8, 16, 32, 64], strides=[4, 8, 16, 32], feat_channels=16,
                  out_channels=16, num_outs=3, norm_cfg=dict(type='GN', num_groups=4),
                  encoder=dict(num_layers=1, layer_cfg=dict(
                      self_attn_cfg=dict(embed_dims=16, num_heads=2, num_levels=3, num_points=2,
                                         batch_first=True),
                      ffn_cfg=dict(embed_dims=16, feedforward_channels=32))),
                  positional_encoding=dict(num_feats=8, normalize=True))
    ref = PSALMPixelDecoder(**kwargs)
    lateral = ref.lateral_convs[0]
    assert lateral.conv.bias is not None and lateral.with_activation
    assert ref.output_convs[0].conv.bias is not None
    mmdet_like = PSALMPixelDecoder(lateral_act_cfg=None, fpn_conv_bias=False, **kwargs)
    assert mmdet_like.lateral_convs[0].conv.bias is None
    assert not mmdet_like.lateral_convs[0].with_activation
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate([8, 16, 32, 64])]
    mask_feature, multi_scale = ref(feats)
    assert mask_feature.shape == (1, 16, 32, 32)
    assert [m.shape[-1] for m in multi_scale] == [4, 8, 16]


def test_visual_prompt_rasterisation():
    point = point_to_mask([[20, 30]], (64, 64))
    ys, xs = np.nonzero(point)
    assert point[30, 20] and point[30, 30] and not point[30, 31]  # radius 10
    assert np.all((xs - 20) ** 2 + (ys - 30) ** 2 <= 10 ** 2 + 1)
    scribble = scribble_to_mask([[[5, 5], [50, 5]]], (64, 64))
    assert scribble[5, 5:51].all() and scribble[10, 30] and not scribble[11, 30]  # radius 5
    box = box_to_mask([[2, 3, 10, 7]], (16, 16))
    assert box.sum() == 8 * 4 and box[3, 2] and not box[7, 2]
    with pytest.raises(ValueError):
        point_to_mask([[1, 1]], (0, 5))


def test_region_pooling_averages_the_sampled_tokens():
    tokens = torch.arange(16, dtype=torch.float32).view(16, 1).repeat(1, 3)  # 4x4 grid, D=3
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[0] = True  # whole canvas: the mean of bilinear samples covers the grid
    masks[1, :8, :8] = True  # near the first token only
    masks = torch.cat([masks, torch.zeros(1, 64, 64, dtype=torch.bool)])
    feats = region_pooling(tokens, (4, 4), masks, (64, 64), num_points=4096,
                           generator=torch.Generator().manual_seed(0))
    assert feats.shape == (3, 3)
    assert abs(float(feats[0, 0]) - 7.5) < 0.6
    assert float(feats[1, 0]) < 1.5
    torch.testing.assert_close(feats[2], tokens.mean(0))  # empty region -> mean token


def _two_query_masks():
    logits = torch.full((3, 4, 6), -BIG)
    logits[0, :, :3] = BIG   # left half
    logits[1, :, 3:] = BIG   # right half
    logits[2, :2, :] = BIG   # top half (overlaps both)
    return logits


def test_panoptic_postprocessor_things_stuff_and_thresholds():
    logits = _two_query_masks()
    scores = torch.full((3, 3), -BIG)  # categories: thing, stuff, background
    scores[0, 0] = BIG  # query 0: thing
    scores[1, 1] = BIG  # query 1: stuff
    scores[2, 2] = BIG  # query 2: background -> dropped
    s = _sample(is_thing=[True, False])
    PanopticPostProcessor()(logits, scores, s)
    pan = s.pred_panoptic_seg.sem_seg[0]
    assert (pan[:, :3] == 0 + 1 * INSTANCE_OFFSET).all()
    assert (pan[:, 3:] == 1).all()
    # A low-confidence query is dropped (object_mask_thr 0.8): void = number of categories.
    scores[1] = torch.tensor([0.0, 1.0, 0.0])  # max prob ~0.58
    PanopticPostProcessor()(logits, scores, s)
    assert (s.pred_panoptic_seg.sem_seg[0][:, 3:] == 2).all()


def test_instance_and_semantic_postprocessors():
    logits = _two_query_masks()
    scores = torch.full((3, 3), -BIG)
    scores[0, 0] = BIG
    scores[1, 1] = BIG
    scores[2, 2] = BIG
    s = _sample(is_thing=[True, False])
    InstancePostProcessor(max_per_image=3)(logits, scores, s)
    inst = s.pred_instances
    assert inst.labels.tolist() == [0, 0]  # top-3 pairs, then the stuff pair is dropped
    assert inst.bboxes[0].tolist() == [0.0, 0.0, 3.0, 4.0]
    assert inst.scores[0] == pytest.approx(1.0, abs=1e-4) and inst.scores[1] < 1e-6
    SemanticPostProcessor()(logits, scores, s)
    sem = s.pred_sem_seg.sem_seg[0]
    assert (sem[:, :3] == 0).all() and (sem[:, 3:] == 1).all()


def test_referring_gres_and_interactive_postprocessors():
    logits = _two_query_masks()
    sentence = torch.tensor([[BIG], [BIG], [-BIG]])
    s = _sample()
    ReferringPostProcessor()(logits, torch.tensor([[-1.0], [BIG], [0.0]]), s)
    assert s.pred_instances.masks[0].equal(logits[1] > 0)

    GRESPostProcessor()(logits, sentence, s)
    assert s.pred_instances.masks[0].all()  # left OR right half
    assert not bool(s.pred_instances.no_target[0])
    low = torch.full((3, 1), -BIG)
    low[2] = -1.0  # best score ~0.27 < 0.6
    GRESPostProcessor()(logits, low, s)
    assert s.pred_instances.masks[0].equal(logits[2] > 0)  # reference: top-1 fallback
    assert bool(s.pred_instances.no_target[0])
    GRESPostProcessor(fallback_top1=False)(logits, low, s)
    assert not s.pred_instances.masks.any()  # explicit no target: empty prediction

    regions = torch.tensor([[-BIG, BIG], [BIG, -BIG], [0.0, 0.0]])  # (Q, K)
    InteractivePostProcessor()(logits, regions, s)
    assert s.pred_instances.masks[0].equal(logits[1] > 0)
    assert s.pred_instances.masks[1].equal(logits[0] > 0)
    assert s.pred_instances.labels.tolist() == [0, 1]


def test_criterion_matches_and_weights_positives():
    torch.manual_seed(0)
    crit = PSALMCriterion(num_points=64)
    canvas = (8, 8)
    gt_mask = torch.zeros(1, 8, 8)
    gt_mask[0, :, :4] = 1
    logits = torch.full((1, 3, 8, 8), -BIG)
    logits[0, 1, :, :4] = BIG  # query 1 predicts the GT mask exactly
    outputs = [dict(mask_logits=logits, scores=[torch.tensor([[0.0], [0.0], [0.0]])])]
    cond = [Condition('sentence', torch.zeros(1, 4))]
    losses = crit(outputs, cond, [InstanceData(masks=gt_mask)], [dict(batch_input_shape=canvas)])
    # BCE with pos_weight (3 - 1) / 1 on logits 0: (2 * ln2 + 2 * ln2) / 3 elements, x 2.0.
    assert float(losses['loss_sentence']) == pytest.approx(2.0 * 4 * np.log(2) / 3, rel=1e-5)
    assigned = crit._match(logits[0], outputs[0]['scores'][0], gt_mask,
                           torch.zeros(1, dtype=torch.long), 'sentence', {})
    assert assigned.tolist() == [-1, 0, -1]  # the query that predicts the GT mask

    cat = [Condition('category', torch.zeros(3, 4))]
    outputs = [dict(mask_logits=logits, scores=[torch.zeros(3, 3)])]
    losses = crit(outputs, cat, [InstanceData(masks=gt_mask, labels=torch.tensor([1]))],
                  [dict(batch_input_shape=canvas)])
    # Uniform logits: CE = ln 3 for every query, whatever the weights.
    assert float(losses['loss_category']) == pytest.approx(2.0 * np.log(3), rel=1e-5)
