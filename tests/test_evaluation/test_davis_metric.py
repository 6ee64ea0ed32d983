"""DAVISMetric and its boundary measure, hand-computed on 8 x 8 frames.

At 8 x 8 the default tolerance is ceil(0.008 * sqrt(8² + 8²)) = ceil(0.09) = 1 px: the disk of
radius 1 is the pixel and its 4 neighbours. A single-pixel mask at (r, c) has the boundary
{r-1, r} x {c-1, c} (the pixel itself differs from its right neighbour; (r, c-1), (r-1, c) and
(r-1, c-1) differ from their right, lower and lower-right neighbour).
"""
import numpy as np
import pytest
from _metric_helpers import assert_same, compute, evaluate, mask, sample, two_rank_results
from PIL import Image

from mmdet.registry import METRICS

from psalm.evaluation.metrics.davis_metric import (DAVISMetric, boundary_radius, disk, f_measure,
                                                   seg2bmap)
from psalm.visualization.palette import davis_palette

S = 8


def px(*pixels):
    return mask(pixels, S, S)


def none():
    return np.zeros((S, S), dtype=bool)


def frame(video, index, preds, gts, **meta):
    return sample(preds, gts, h=S, w=S, video_name=video, frame_index=index, **meta)


def test_seg2bmap_single_pixel_full_image_and_border():
    assert np.array_equal(seg2bmap(px((2, 2))), px((1, 1), (1, 2), (2, 1), (2, 2)))
    assert not seg2bmap(np.ones((S, S), bool)).any()  # the image border is no boundary
    # a pixel in the bottom-right corner: only its left and upper neighbours see it
    assert np.array_equal(seg2bmap(px((7, 7))), px((6, 6), (6, 7), (7, 6)))


def test_tolerance_and_disk():
    assert boundary_radius((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius((S, S)) == 1
    assert boundary_radius((S, S), bound_th=3) == 3.0  # >= 1: pixels
    assert np.array_equal(disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    skimage_morphology = pytest.importorskip('skimage.morphology')
    for r in (1, 2, 5, 8):
        assert np.array_equal(disk(float(r)), skimage_morphology.disk(r))


def test_f_measure_cases():
    # prediction (2, 2), truth (2, 4): boundaries {1,2}x{1,2} and {1,2}x{3,4}. Within 1 px of the
    # other boundary: predicted (1,2), (2,2) of 4 -> P = 1/2; true (1,3), (2,3) of 4 -> R = 1/2
    assert f_measure(px((2, 2)), px((2, 4))) == pytest.approx(0.5)
    assert f_measure(px((2, 2)), px((2, 2))) == 1.0
    assert f_measure(px((2, 1)), px((2, 6))) == 0.0  # 3 columns apart: P = R = 0
    assert f_measure(none(), none()) == 1.0
    assert f_measure(none(), px((2, 2))) == 0.0  # P 1, R 0
    assert f_measure(px((2, 2)), none()) == 0.0  # P 0, R 1
    # a wider tolerance (3 px) accepts the shifted pixel: F = 1
    assert f_measure(px((2, 2)), px((2, 4)), bound_th=3) == 1.0


def _video_a(num_frames=True):
    """5 frames, objects 1 and 2. Frames 0 and 4 are excluded (their predictions are empty and
    would lower every score)."""
    meta = dict(num_frames=5) if num_frames else {}
    ids = dict(object_ids=[1, 2])
    return [
        frame('a', 0, [none(), none()], [px((2, 2)), px((5, 5))], **ids, **meta),
        # object 1: truth (2, 2), predicted (2, 4): J 0, F 1/2; object 2 exact: J 1, F 1
        frame('a', 1, [px((2, 4)), px((5, 5))], [px((2, 2)), px((5, 5))], **ids, **meta),
        # object 1 exact: J 1, F 1; object 2 absent from truth and prediction: J 1, F 1
        frame('a', 2, [px((2, 2)), none()], [px((2, 2)), none()], **ids, **meta),
        # only object 1 listed (object 2 absent: J 1, F 1); object 1 exact: J 1, F 1
        frame('a', 3, [px((2, 2))], [px((2, 2))], object_ids=[1], **meta),
        frame('a', 4, [none(), none()], [px((2, 2)), px((5, 5))], **ids, **meta),
    ]


def _video_b():
    """3 frames, no num_frames (the last received frame, 2, is the last), default id 1.
    Frame 1: object absent from the truth but predicted at (4, 4): J 0 (I 0, U 1), F 0."""
    return [
        frame('b', 0, [none()], [px((3, 3))]),
        frame('b', 1, [px((4, 4))], [none()]),
        frame('b', 2, [none()], [px((3, 3))]),
    ]


# per object (J mean, F mean, J recall, F recall) over the kept frames:
#   a/1: J [0, 1, 1] -> 2/3; F [1/2, 1, 1] -> 5/6; recall (> 0.5) J 2/3, F 2/3
#   a/2: J [1, 1, 1] -> 1;   F 1;                   recall 1, 1
#   b/1: J [0] -> 0;         F [0] -> 0;            recall 0, 0
# J-Mean = (2/3 + 1 + 0) / 3 = 5/9; F-Mean = (5/6 + 1 + 0) / 3 = 11/18
# J&F = (5/9 + 11/18) / 2 = 7/12; J-Recall = F-Recall = (2/3 + 1 + 0) / 3 = 5/9
EXPECTED = {
    'davis/J&F-Mean': 100 * 7 / 12,
    'davis/J-Mean': 100 * 5 / 9,
    'davis/F-Mean': 100 * 11 / 18,
    'davis/J-Recall': 100 * 5 / 9,
    'davis/F-Recall': 100 * 5 / 9,
}


@pytest.mark.parametrize('batch_size', [1, 3, 8])
def test_hand_computed(batch_size):
    res = evaluate(DAVISMetric(), _video_a() + _video_b(), batch_size)
    assert res == pytest.approx(EXPECTED, rel=1e-12)


def test_frame_order_batch_size_and_two_process_gather_give_identical_numbers():
    frames = _video_a() + _video_b()
    single = evaluate(DAVISMetric(prefix='d'), frames, 1)
    assert_same(single, evaluate(DAVISMetric(prefix='d'), frames[::-1], 3))
    unprefixed = {k[2:]: v for k, v in single.items()}
    interleaved, concatenated = two_rank_results(DAVISMetric, frames)  # 8 frames, split 4 + 4
    assert_same(compute(DAVISMetric, interleaved), unprefixed)
    assert_same(compute(DAVISMetric, concatenated), unprefixed)


def test_without_num_frames_the_last_received_frame_is_last():
    assert_same(evaluate(DAVISMetric(), _video_a(num_frames=False) + _video_b(), 2),
                evaluate(DAVISMetric(), _video_a() + _video_b(), 2))


def test_all_frames_kept_when_asked():
    # video b only, frames 0, 1, 2: J [0 (empty prediction), 0, 0], F [0, 0, 0]
    res = evaluate(DAVISMetric(exclude_first_last=False, prefix='d'), _video_b(), 1)
    assert res['d/J&F-Mean'] == 0.0
    # frame 0 of video b with a correct prediction: J [1, 0, 0] -> 1/3
    frames = [frame('b', 0, [px((3, 3))], [px((3, 3))])] + _video_b()[1:]
    res = evaluate(DAVISMetric(exclude_first_last=False, prefix='d'), frames, 1)
    assert res['d/J-Mean'] == pytest.approx(100 / 3)


def test_overlaps_resolved_as_the_png_and_png_written(tmp_path):
    # region 0 (object 3) predicted (2, 2) + (2, 3), region 1 (object 7) predicted (2, 3): the
    # later region takes (2, 3), so both objects match their truth exactly (J = F = 1); without
    # that, object 3 would have J 1/2. Frames 0 and 2 are excluded (num_frames 3).
    preds = [px((2, 2), (2, 3)), px((2, 3))]
    gts = [px((2, 2)), px((2, 3))]
    frames = [frame('v', i, preds, gts, object_ids=[3, 7], num_frames=3,
                    img_path=f'/x/JPEGImages/480p/v/{i:05d}.jpg') for i in range(3)]
    res = evaluate(DAVISMetric(outfile_prefix=str(tmp_path), prefix='d'), frames, 2)
    assert res['d/J-Mean'] == 100.0 and res['d/F-Mean'] == 100.0
    png = Image.open(tmp_path / 'v' / '00001.png')
    assert png.mode == 'P'
    index = np.array(png)
    expected = np.zeros((S, S), np.uint8)
    expected[2, 2], expected[2, 3] = 3, 7
    assert np.array_equal(index, expected)
    assert sorted(p.name for p in (tmp_path / 'v').iterdir()) == [
        '00000.png', '00001.png', '00002.png']


def test_first_frame_annotation_written_for_the_toolkit(tmp_path):
    """The toolkit reads frame 0 too: the given annotation, restricted to the tracked objects
    (void 255 and an untracked id 9 become background), written once per video."""
    first = np.zeros((S, S), np.uint8)
    first[1, 1], first[2, 2], first[3, 3], first[0, :] = 3, 7, 9, 255
    ann = tmp_path / 'ann' / '00000.png'
    ann.parent.mkdir()
    png = Image.fromarray(first)
    png.putpalette(davis_palette().ravel().tolist())  # a full palette: PNG keeps the indices
    png.save(ann)
    out = tmp_path / 'out'
    frames = [frame('v', i, [none(), none()], [none(), none()], object_ids=[3, 7], num_frames=3,
                    first_frame_seg_map_path=str(ann), frame_name=f'{i:05d}') for i in (1, 2)]
    evaluate(DAVISMetric(outfile_prefix=str(out)), frames, 1)
    written = np.array(Image.open(out / 'v' / '00000.png'))
    expected = np.zeros((S, S), np.uint8)
    expected[1, 1], expected[2, 2] = 3, 7
    assert np.array_equal(written, expected)
    assert sorted(p.name for p in (out / 'v').iterdir()) == ['00000.png', '00001.png',
                                                             '00002.png']  # no temp file left


def test_format_only_writes_without_ground_truth(tmp_path):
    s = frame('t', 5, [px((1, 1))], [], frame_name='00005', object_ids=[2])
    del s.gt_masks
    res = evaluate(DAVISMetric(outfile_prefix=str(tmp_path), format_only=True), [s], 1)
    assert res == {}
    assert np.array(Image.open(tmp_path / 't' / '00005.png'))[1, 1] == 2


def test_errors_and_registry():
    m = DAVISMetric()
    with pytest.raises(ValueError, match='distinct'):
        m.process(None, [frame('a', 1, [none()] * 2, [none()] * 2, object_ids=[1, 1]).to_dict()])
    with pytest.raises(ValueError, match='received twice'):
        frames = [frame('a', 1, [none()], [none()])] * 2
        compute(DAVISMetric, [r for f in frames for r in _records(f)])
    with pytest.raises(ValueError, match='outfile_prefix'):
        DAVISMetric(format_only=True)
    s = frame('a', 1, [none()], [none()])
    del s.gt_masks
    with pytest.raises(KeyError, match='format_only'):
        m.process(None, [s.to_dict()])
    # the brief's names are accepted too
    s = sample([px((2, 2))], [px((2, 2))], h=S, w=S, video='z', frame_id=1)
    assert _records(s)[0]['video'] == 'z'
    assert isinstance(METRICS.build(dict(type='DAVISMetric')), DAVISMetric)


def _records(s):
    m = DAVISMetric()
    m.process(None, [s.to_dict()])
    return m.results
