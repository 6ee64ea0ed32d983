"""PSALMInferencer on a converted tiny checkpoint (the fake released checkpoint of
psalm.testing.released_psalm, converted by the real converter), CPU only."""
import copy
import json
import os
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample

from psalm.apis import PSALMInferencer, masks_to_index_map, read_object_masks
from psalm.testing import make_toy_coco_panoptic
from psalm.testing.demo_inputs import make_demo_inputs
from psalm.testing.released_psalm import make_converted_tiny_psalm
from psalm.visualization import PSALMLocalVisualizer, region_palette

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
CATS = ['person', 'helmet', 'rocket', 'wall']
THING = [True, True, True, False]


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    return make_converted_tiny_psalm(str(tmp_path_factory.mktemp('psalm_ckpt')), TINY_CONFIG)


@pytest.fixture(scope='module')
def inferencer(converted):
    return PSALMInferencer(converted['config'], device='cpu')


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo_inputs'))
    paths = make_demo_inputs(root, num_frames=3)
    small = osp.join(root, 'small.jpg')  # a second, smaller image of another aspect ratio
    cv2.imwrite(small, cv2.resize(cv2.imread(paths['image']), (96, 64)))
    paths['small'] = small
    return paths


def decode(rle: dict) -> np.ndarray:
    return mask_util.decode(dict(size=rle['size'], counts=rle['counts'].encode())).astype(bool)


def read_json(out_dir, name):
    with open(osp.join(out_dir, 'preds', name + '.json')) as f:
        return json.load(f)


REGIONS = [dict(type='point', data=[226, 112]), dict(type='box', data=[280, 340, 505, 510]),
           dict(type='scribble', data=[[30, 60], [70, 200], [40, 330]])]


@pytest.mark.parametrize('task,prompt', [
    ('panoptic', dict(categories=CATS, is_thing=THING)),
    ('instance', dict(categories=CATS)),
    ('semantic', dict(categories=CATS)),
    ('referring', dict(text='the woman in the orange suit')),
    ('gres', dict(text='all the flags')),
    ('interactive', dict(visual_prompts=REGIONS)),
    ('vqa', dict(question='What is the person wearing?')),
])
def test_every_task_writes_picture_and_json(inferencer, inputs, tmp_path, task, prompt):
    out = str(tmp_path / task)
    result = inferencer(inputs['image'], task=task, out_dir=out, no_save_pred=False, **prompt)
    pred = result['predictions'][0]
    assert pred['task'] == task and (pred['height'], pred['width']) == (512, 512)
    vis = cv2.imread(osp.join(out, 'vis', 'astronaut.jpg'))
    assert vis.shape[1] == 512 and vis.shape[0] >= 512  # a caption band for text tasks
    assert (vis.shape[0] > 512) == (task in ('referring', 'gres', 'vqa'))
    saved = read_json(out, 'astronaut')
    assert saved == json.loads(json.dumps(pred))
    masks = [decode(i['mask']) for i in saved.get('instances', [])]
    masks += [decode(s['mask']) for s in saved.get('panoptic', []) + saved.get('semantic', [])]
    assert all(m.shape == (512, 512) for m in masks)
    if task in ('panoptic', 'instance', 'semantic'):
        assert saved['prompt']['categories'] == CATS
        for item in saved.get('instances', []) + saved.get('semantic', []):
            assert item['category'] == CATS[item['label']]
    if task == 'panoptic':
        assert {'panoptic', 'instances', 'semantic'} <= set(saved)
        # Panoptic instances are things only (the reference's panoptic mode).
        assert all(THING[i['label']] for i in saved['instances'])
    if task == 'semantic':
        sem = np.zeros((512, 512), int)
        for s in saved['semantic']:
            sem[decode(s['mask'])] += 1
        assert (sem == 1).all()  # one category per pixel
    if task in ('referring', 'gres'):
        assert len(saved['instances']) == 1 and saved['prompt']['text'] == prompt['text']
        assert isinstance(saved.get('no_target'), bool) == (task == 'gres')
    if task == 'interactive':
        assert [i['region'] for i in saved['instances']] == [0, 1, 2]
        assert [r['type'] for r in saved['prompt']['regions']] == ['point', 'box', 'scribble']
    if task == 'vqa':
        assert isinstance(saved['answer'], str) and saved['answer'].strip()
        assert saved['prompt']['question'] == prompt['question']


def test_mask_prompt_from_png_and_datasample_output(inferencer, inputs):
    result = inferencer(inputs['image'], task='interactive', return_datasamples=True,
                        visual_prompts=[dict(type='mask', data=inputs['mask']),
                                        dict(type='point', data=[[10, 10], [500, 500]])])
    sample = result['predictions'][0]
    assert isinstance(sample, DetDataSample) and sample.pred_instances.masks.shape == (2, 512,
                                                                                       512)
    # The region masks the model saw: the PNG and two 10 px disks, on the resized image.
    region = sample.metainfo['region_masks']
    assert region.shape == (2, 128, 128)
    png = np.asarray(Image.open(inputs['mask'])) > 0
    resized = cv2.resize(png.astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(region[0], resized.astype(bool))
    assert region[1][2, 2] and region[1][125, 125] and not region[1][64, 64]


def test_batch_matches_single_and_mixes_tasks(inferencer, inputs):
    images = [inputs['image'], inputs['small']]
    kw = dict(task='referring', text='the rocket', return_datasamples=True)
    single = [inferencer(img, **kw)['predictions'][0] for img in images]
    batched = inferencer(images, batch_size=2, **kw)['predictions']
    for a, b in zip(single, batched):
        assert a.pred_instances.masks.shape == b.pred_instances.masks.shape
        torch.testing.assert_close(a.pred_instances.scores, b.pred_instances.scores,
                                   atol=1e-4, rtol=1e-4)
        agree = (a.pred_instances.masks == b.pred_instances.masks).float().mean()
        assert agree > 0.999
    # One batch, three tasks, per-input prompts; names stay distinct for the same image.
    mixed = inferencer([
        dict(img_path=inputs['image'], task='gres', text='the flag'),
        dict(img_path=inputs['image'], task='vqa', question='Where is she?'),
        dict(img=cv2.imread(inputs['small']), task='interactive',
             visual_prompts=[dict(type='box', data=[0, 0, 40, 30])]),
    ], batch_size=3)['predictions']
    assert [p['task'] for p in mixed] == ['gres', 'vqa', 'interactive']
    assert mixed[0]['name'] == 'astronaut' and mixed[1]['name'] == 'astronaut_1'
    assert 'answer' in mixed[1] and (mixed[2]['height'], mixed[2]['width']) == (64, 96)


def test_predict_is_fed_as_in_evaluation(inferencer, tmp_path):
    """The same image through the toy panoptic dataset (the config's test pipeline) and through
    the inferencer gives the same semantic logits and instance scores."""
    info = make_toy_coco_panoptic(str(tmp_path), 'val', num_images=1, image_size=(60, 90))
    ds_cfg = copy.deepcopy(inferencer.cfg.test_dataloader.dataset)
    ds_cfg.update(data_root=str(tmp_path), ann_file=info['ann_file'],
                  metainfo=info['metainfo'],
                  data_prefix=dict(img=info['img_dir'], seg=info['seg_dir']))
    dataset = DATASETS.build(ds_cfg)
    with torch.no_grad():
        ref = inferencer.model.test_step(pseudo_collate([dataset[0]]))[0]
    raw = dataset.get_data_info(0)
    got = inferencer(raw['img_path'], task='panoptic', categories=raw['categories'],
                     is_thing=raw['is_thing'], return_datasamples=True)['predictions'][0]
    torch.testing.assert_close(got.pred_sem_seg.seg_logits, ref.pred_sem_seg.seg_logits)
    torch.testing.assert_close(got.pred_instances.scores, ref.pred_instances.scores)
    assert torch.equal(got.pred_panoptic_seg.sem_seg, ref.pred_panoptic_seg.sem_seg)


def test_default_categories_come_from_the_config(inferencer, inputs):
    pred = inferencer(inputs['small'], task='semantic')['predictions'][0]
    classes = list(inferencer.model.dataset_meta['classes'])
    assert len(classes) == 133 and pred['prompt']['categories'] == classes
    assert pred['prompt']['is_thing'] == [i < 80 for i in range(133)]


# ------------------------------------------------------------------------------- bad input
def test_bad_inputs_fail_clearly_before_writing(inferencer, inputs, tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg at all')
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=r'inputs\[1\]: cannot read image .*broken\.jpg'):
        inferencer([inputs['image'], str(broken)], task='referring', text='x', out_dir=str(out),
                   no_save_pred=False)
    assert not out.exists()  # the good first image was not written either
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inferencer(str(tmp_path / 'missing.png'), task='referring', text='x')
    cases = [
        (dict(task='referring', text='  '), r'text: .*non-empty'),
        (dict(task='gres'), r'text: .*non-empty'),
        (dict(task='vqa', question=''), r'question: .*non-empty'),
        (dict(task='semantic', categories=['a', 'a']), r'categories: duplicated'),
        (dict(task='panoptic', categories=['a', 'b'], is_thing=[True]), r'is_thing: 1 flags'),
        (dict(task='interactive'), r'visual_prompts: .*at least one'),
        (dict(task='interactive', visual_prompts=[dict(type='point', data=[600, 10])]),
         r'visual_prompts\[0\] \(point\): \(600, 10\) is outside the 512x512 image astronaut'),
        (dict(task='interactive', visual_prompts=[
            dict(type='box', data=[0, 0, 10, 10]), dict(type='box', data=[10, 10, 5, 600])]),
         r'visual_prompts\[1\] \(box\): box .* must satisfy'),
        (dict(task='interactive', visual_prompts=[
            dict(type='scribble', data=[[[1, 1], [2, 2]], [[3, 3], [3, -4]]])]),
         r'visual_prompts\[0\] \(scribble\) polyline 1: \(3, -4\) is outside'),
        (dict(task='interactive', visual_prompts=[dict(type='lasso', data=[1, 2])]),
         r"type 'lasso' is not one of"),
        (dict(task='interactive', visual_prompts=[dict(type='mask', data=inputs['small'])]),
         r'\(mask\): mask .*small\.jpg.* is 96x64 \(WxH\), the image is 512x512'),
        (dict(task='interactive',
              visual_prompts=[dict(type='mask', data=np.zeros((512, 512), bool))]),
         r'\(mask\): the mask is empty'),
        (dict(task='detect'), r"unknown task 'detect'"),
        (dict(task=None), r'no task given'),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            inferencer(inputs['image'], out_dir=str(out), **kwargs)
    assert not out.exists()


def test_task_the_config_does_not_support(converted, inputs):
    cfg_file = converted['config']
    inf = PSALMInferencer(cfg_file, cfg_options={'model.test_cfg.postprocess.gres': []})
    with pytest.raises(ValueError, match=rf"task 'gres' is not supported by {cfg_file}: "
                       r"model.test_cfg.postprocess\['gres'\] is empty"):
        inf(inputs['image'], task='gres', text='the flag')
    inf = PSALMInferencer(cfg_file, cfg_options={
        'model.prompt_encoder.task_prompts.vos.condition': 'sentence'})
    with pytest.raises(ValueError, match=r"task_prompts\['vos'\] has condition 'sentence'"):
        inf.track_video(inputs['frames'], inputs['first_mask'])
    with pytest.raises(FileNotFoundError, match='checkpoint'):
        PSALMInferencer(cfg_file, weights=cfg_file + '.missing.pth')


# ----------------------------------------------------------------------------------- video
def test_video_tracks_objects_with_memory(inferencer, inputs, tmp_path):
    out = str(tmp_path / 'video')
    result = inferencer.track_video(inputs['frames'], inputs['first_mask'], out_dir=out)
    first, ids = read_object_masks(inputs['first_mask'])
    assert result['object_ids'] == ids == [1, 2, 3] and len(result['frames']) == 3
    names = ['00000', '00001', '00002']
    assert [f['name'] for f in result['frames']] == names
    for name, frame in zip(names, result['frames']):
        png = Image.open(osp.join(out, 'masks', name + '.png'))
        assert png.mode == 'P' and png.size == (448, 448)
        index = np.asarray(png)
        assert set(np.unique(index)) <= {0, 1, 2, 3}
        masks = np.stack([decode(o['mask']) for o in frame['objects']])
        scores = [o['score'] for o in frame['objects']]
        assert np.array_equal(index, masks_to_index_map(masks, scores, ids))
        assert cv2.imread(osp.join(out, 'vis', name + '.jpg')).shape == (448, 448, 3)
    assert np.array_equal(np.asarray(Image.open(osp.join(out, 'masks', '00000.png'))),
                          np.asarray(Image.open(inputs['first_mask'])))
    assert osp.isfile(result['video_path']) and result['video_path'].endswith('.mp4')
    with open(osp.join(out, 'preds', 'astronaut_pan.json')) as f:
        assert json.load(f)['object_ids'] == ids
    assert not [n for n in os.listdir(out) if n.startswith('.tmp-')]


def test_video_bad_inputs(inferencer, inputs, tmp_path):
    frames = tmp_path / 'frames'
    frames.mkdir()
    img = cv2.imread(osp.join(inputs['frames'], '00000.jpg'))
    cv2.imwrite(str(frames / '0.jpg'), img)
    cv2.imwrite(str(frames / '1.jpg'), img[:100])
    with pytest.raises(ValueError, match=r"frames\[1\] .*1\.jpg' is 448x100"):
        inferencer.track_video(str(frames), inputs['first_mask'], out_dir=str(tmp_path / 'o'))
    cv2.imwrite(str(frames / '1.jpg'), img)
    empty = tmp_path / 'empty.png'
    Image.fromarray(np.zeros((448, 448), np.uint8)).save(empty)
    with pytest.raises(ValueError, match='has no object'):
        inferencer.track_video(str(frames), str(empty), out_dir=str(tmp_path / 'o'))
    rgb = tmp_path / 'rgb.png'
    Image.fromarray(np.zeros((448, 448, 3), np.uint8)).save(rgb)
    with pytest.raises(ValueError, match='indexed .* PNG'):
        inferencer.track_video(str(frames), str(rgb), out_dir=str(tmp_path / 'o'))
    with pytest.raises(ValueError, match='at least 2'):
        inferencer.track_video([str(frames / '0.jpg')], inputs['first_mask'])
    assert not (tmp_path / 'o').exists()


# ------------------------------------------------------------------------------ visualizer
def test_visualizer_draws_prompts_and_captions():
    vis = PSALMLocalVisualizer(name='test_psalm_vis')
    image = np.zeros((100, 120, 3), np.uint8)
    sample = DetDataSample(metainfo=dict(task='interactive', visual_prompts=[
        dict(type='point', data=[[30, 40]]), dict(type='box', data=[60, 10, 110, 90])]))
    vis.add_datasample('x', image, sample, draw_prompts=True)
    drawn = vis.get_image()
    assert drawn.shape == image.shape
    assert drawn[40, 30].max() > 100  # the point's disk
    assert np.abs(drawn[50, 60].astype(int) - region_palette(2)[1]).max() < 60  # box edge
    assert drawn[95, 5].max() == 0 and drawn[50, 85].max() == 0  # elsewhere untouched
    vis.add_datasample('x', image, sample, draw_prompts=False)
    assert vis.get_image().max() == 0
    sample = DetDataSample(metainfo=dict(task='conversation', conversation=[
        {'from': 'human', 'value': '<image>\nWhat is this?'}]))
    sample.pred_text = 'a black square'
    vis.add_datasample('x', image, sample)
    assert vis.get_image().shape[0] > 100 and vis.get_image().shape[1] == 120
