"""tools/demo.py: every documented command (demo.EXAMPLES, the README's) runs on CPU with a
converted tiny checkpoint and writes its picture and a JSON whose masks have the image size."""
import json
import os
import os.path as osp
import shlex

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from psalm.testing.demo_inputs import make_demo_inputs
from psalm.testing.released_psalm import make_converted_tiny_psalm
from psalm.utils import import_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
DEMO = osp.join(REPO, 'tools', 'demo.py')


demo = import_script(DEMO, 'psalm_demo_tool')


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """A folder laid out as the README's commands expect: work_dirs/demo_inputs/ and a converted
    checkpoint (its config sets load_from, so no --weights is needed)."""
    root = tmp_path_factory.mktemp('demo')
    make_demo_inputs(str(root / 'work_dirs' / 'demo_inputs'), num_frames=3)
    ckpt = make_converted_tiny_psalm(str(root / 'ckpt'), TINY_CONFIG)
    return dict(root=root, config=ckpt['config'])


def decode(rle: dict) -> np.ndarray:
    return mask_util.decode(dict(size=rle['size'], counts=rle['counts'].encode())).astype(bool)


@pytest.mark.parametrize('task', sorted(demo.EXAMPLES))
def test_documented_command(workdir, task, monkeypatch, capsys):
    monkeypatch.chdir(workdir['root'])
    out = f'out/{task}'
    argv = [workdir['config']] + shlex.split(demo.EXAMPLES[task]) + ['--out-dir', out]
    assert demo.main(argv) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    if task == 'video':
        names = ['00000', '00001', '00002']
        assert sorted(os.listdir(f'{out}/masks')) == [n + '.png' for n in names]
        assert sorted(os.listdir(f'{out}/vis')) == [n + '.jpg' for n in names]
        assert osp.isfile(f'{out}/astronaut_pan.mp4') and 'objects [1, 2, 3]' in stdout
        with open(f'{out}/preds/astronaut_pan.json') as f:
            frames = json.load(f)['frames']
        assert all(decode(o['mask']).shape == (448, 448) for fr in frames for o in fr['objects'])
        return
    vis = cv2.imread(f'{out}/vis/astronaut.jpg')
    assert vis is not None and vis.shape[1] == 512
    with open(f'{out}/preds/astronaut.json') as f:
        pred = json.load(f)
    assert pred['task'] == task and (pred['height'], pred['width']) == (512, 512)
    rles = [item['mask'] for key in ('instances', 'panoptic', 'semantic')
            for item in pred.get(key, [])]
    assert all(decode(rle).shape == (512, 512) for rle in rles)
    assert bool(rles) == (task != 'vqa')
    if task == 'interactive':
        assert [r['type'] for r in pred['prompt']['regions']] == ['point', 'box', 'scribble',
                                                                  'mask']
        assert len(pred['instances']) == 4
    if task == 'panoptic':
        assert pred['prompt']['is_thing'] == [True] * 4 + [False]
    if task == 'vqa':
        assert 'answer:' in stdout


def test_bad_input_exits_with_a_clear_message(workdir, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(workdir['root'])
    cfg = workdir['config']
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG garbage')
    img, pan = 'work_dirs/demo_inputs/astronaut.png', 'work_dirs/demo_inputs/astronaut_pan'
    cases = [
        ([cfg, str(broken), '--task', 'referring', '--text', 'a'], 'cannot read image'),
        ([cfg, img, '--task', 'referring', '--text', ' '],
         'text: task \'referring\' needs a non-empty'),
        ([cfg, img, '--task', 'interactive', '--region', 'point:9999,5'],
         r'(9999, 5) is outside the 512x512 image astronaut'),
        ([cfg, img, '--task', 'interactive', '--region', 'point:1'],
         "--region 'point:1': expected X,Y pairs"),
        ([cfg, img, '--task', 'interactive', '--region', f'mask:{pan}_00000.png'],
         'is 448x448 (WxH), the image is 512x512'),
        ([cfg, img, '--task', 'gres', '--text', 'a', '--cfg-options',
          'model.test_cfg.postprocess.gres=[]'],
         f"task 'gres' is not supported by {cfg}: model.test_cfg.postprocess['gres']"),
        ([TINY_CONFIG, img, '--task', 'vqa', '--question', 'why?'],
         f'no checkpoint: pass --weights, set load_from in {TINY_CONFIG}'),
        ([cfg, pan, '--task', 'video'], 'one folder of frames and'),
        ([cfg, img, '--task', 'semantic', '--class-list', 'coco'], "unknown class list 'coco'"),
    ]
    for argv, message in cases:
        assert demo.main(argv + ['--out-dir', 'bad_out']) == 1
        err = capsys.readouterr().err
        assert message in err, err
        assert not osp.exists('bad_out')


def test_cli_subprocess_with_random_weights(workdir, run_tool, tmp_path):
    """The script as a user runs it: tiny config, random weights, a batch of two images."""
    root = workdir['root']
    out = tmp_path / 'out'
    images = ['work_dirs/demo_inputs/astronaut.png', 'work_dirs/demo_inputs/rocket_mask.png']
    stdout = run_tool([DEMO, TINY_CONFIG, *images, '--task', 'referring', '--text', 'the rocket',
                       '--random-weights', '--batch-size', '2', '--out-dir', str(out)], cwd=root)
    assert 'astronaut: referring 1 instances' in stdout
    assert sorted(os.listdir(out / 'vis')) == ['astronaut.jpg', 'rocket_mask.jpg']
    assert sorted(os.listdir(out / 'preds')) == ['astronaut.json', 'rocket_mask.json']
