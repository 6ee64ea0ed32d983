"""LoadVisualPrompts and PackPSALMInputs."""
import numpy as np
import pycocotools.mask as mask_util
import pytest

from mmdet.structures import DetDataSample

from psalm.datasets import LoadVisualPrompts, PackPSALMInputs


def _results(prompts, ori=(40, 60), img=(80, 120)):
    return dict(visual_prompts=prompts, ori_shape=ori, img_shape=img,
                img=np.zeros((*img, 3), np.uint8))


def test_prompts_rasterised_at_original_size_then_resized():
    mask = np.zeros((40, 60), np.uint8)
    mask[5:15, 10:30] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode('ascii')  # as stored in json
    point_pixel = np.zeros((40, 60), np.uint8)
    point_pixel[20, 30] = 1
    point_rle = mask_util.encode(np.asfortranarray(point_pixel))
    prompts = [dict(type='point', data=[[30, 20]]),
               dict(type='scribble', data=[[[0, 39], [59, 39]]]),
               dict(type='box', data=[10, 5, 30, 15]),
               dict(type='mask', data=rle),
               dict(type='point', mask=point_rle)]
    out = LoadVisualPrompts()(_results(prompts))['region_masks']
    assert out.shape == (5, 80, 120) and out.dtype == bool
    # A 10 px disk at the original size covers about pi * 10^2 px, x4 after the 2x resize.
    assert abs(out[0].sum() / 4 - np.pi * 100) < 0.1 * np.pi * 100
    assert out[0][40, 60] and not out[0][40, 60 + 2 * 11]
    np.testing.assert_array_equal(out[2], out[3])  # the box equals the same mask region
    np.testing.assert_array_equal(out[0], out[4])  # an RLE point pixel is dilated the same way
    assert out[1][-1].all() and not out[1][80 - 2 * 7].any()  # 5 px stroke along the border


def test_prompts_follow_a_flip():
    results = _results([dict(type='box', data=[0, 0, 10, 40])], ori=(40, 60), img=(40, 60))
    results.update(flip=True, flip_direction='horizontal')
    out = LoadVisualPrompts()(results)['region_masks'][0]
    assert out[:, 50:].all() and not out[:, :50].any()


def test_bad_prompts_raise():
    with pytest.raises(ValueError, match='visual prompt type'):
        LoadVisualPrompts()(_results([dict(type='lasso', data=[])]))
    with pytest.raises(ValueError, match='has shape'):
        LoadVisualPrompts()(_results([dict(type='mask', data=np.zeros((3, 3), bool))]))


def test_pack_carries_prompt_metainfo():
    results = dict(img=np.zeros((8, 8, 3), np.uint8), img_shape=(8, 8), ori_shape=(8, 8),
                   img_id=1, img_path='x.jpg', scale_factor=(1.0, 1.0), task='referring',
                   text='the cat', region_masks=np.zeros((1, 8, 8), bool))
    sample: DetDataSample = PackPSALMInputs(meta_keys=('extra', ))(dict(results, extra=3))[
        'data_samples']
    assert sample.metainfo['task'] == 'referring' and sample.metainfo['text'] == 'the cat'
    assert sample.metainfo['region_masks'].shape == (1, 8, 8)
    assert sample.metainfo['extra'] == 3
