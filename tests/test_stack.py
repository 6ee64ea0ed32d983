"""The pinned OpenMMLab stack is installed with mmcv's compiled ops."""
import torch


def test_imports_and_versions():
    import mmcv
    import mmcv.ops  # noqa: F401  (fails without the compiled `mmcv._ext`)
    import mmdet
    import mmengine

    import psalm
    assert mmcv.__version__ == '2.1.0'
    assert mmengine.__version__ == '0.10.7'
    assert mmdet.__version__ == '3.3.0'
    assert psalm.__version__
    from mmcv.utils import ext_loader
    ext = ext_loader.load_ext('_ext', ['ms_deform_attn_forward', 'nms'])
    assert hasattr(ext, 'nms')


def test_compiled_cpu_op_runs():
    """A compiled CPU kernel of mmcv (nms) gives the right answer."""
    from mmcv.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_multi_scale_deformable_attention_forward_backward():
    from mmcv.ops import MultiScaleDeformableAttention
    from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch

    torch.manual_seed(0)
    embed, heads, levels, points = 32, 4, 3, 4
    attn = MultiScaleDeformableAttention(embed_dims=embed, num_heads=heads, num_levels=levels,
                                         num_points=points, dropout=0.0, batch_first=True)
    attn.init_weights()
    shapes = torch.tensor([[8, 8], [4, 4], [2, 2]])
    start = torch.cat([shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]).cumsum(0)[:-1]])
    num_value = int((shapes[:, 0] * shapes[:, 1]).sum())
    bs, num_query = 2, 5
    value = torch.randn(bs, num_value, embed, requires_grad=True)
    query = torch.randn(bs, num_query, embed, requires_grad=True)
    ref = torch.rand(bs, num_query, levels, 2)
    out = attn(query=query, value=value, reference_points=ref, spatial_shapes=shapes,
               level_start_index=start)
    assert out.shape == (bs, num_query, embed)

    # Same result as composing the module's projections with the reference PyTorch kernel.
    with torch.no_grad():
        v = attn.value_proj(value).view(bs, num_value, heads, -1)
        off = attn.sampling_offsets(query).view(bs, num_query, heads, levels, points, 2)
        w = attn.attention_weights(query).view(bs, num_query, heads, levels * points)
        w = w.softmax(-1).view(bs, num_query, heads, levels, points)
        norm = torch.stack([shapes[..., 1], shapes[..., 0]], -1)
        loc = ref[:, :, None, :, None, :] + off / norm[None, None, None, :, None, :]
        expected = attn.output_proj(multi_scale_deformable_attn_pytorch(v, shapes, loc, w)) + query
    torch.testing.assert_close(out, expected)

    out.square().sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert value.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
