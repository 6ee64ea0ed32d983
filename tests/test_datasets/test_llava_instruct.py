"""LLaVA-format conversations, with and without images."""
import json

import cv2
import numpy as np
import pytest

from mmdet.utils import register_all_modules

from psalm.datasets import LLaVAInstructDataset

PIPELINE = [
    dict(type='LoadOptionalImage', blank_size=(16, 16)),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackPSALMInputs'),
]


def _write(tmp_path, entries):
    (tmp_path / 'coco').mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / 'coco' / 'a.jpg'), np.full((40, 20, 3), 90, np.uint8))
    path = tmp_path / 'llava.json'
    path.write_text(json.dumps(entries))
    return str(path)


def test_conversations_with_and_without_image(tmp_path):
    register_all_modules()
    ann = _write(tmp_path, [
        {'id': 'x1', 'image': 'coco/a.jpg', 'conversations': [
            {'from': 'human', 'value': '<image>\nWhat colour is it?'},
            {'from': 'gpt', 'value': 'Grey.'}]},
        {'id': 'x2', 'conversations': [
            {'from': 'human', 'value': 'Name a prime.'}, {'from': 'gpt', 'value': 'Seven.'}]},
    ])
    ds = LLaVAInstructDataset(ann_file=ann, data_prefix=dict(img=str(tmp_path)),
                              pipeline=PIPELINE)
    assert len(ds) == 2
    with_image, text_only = ds[0]['data_samples'], ds[1]['data_samples']
    assert with_image.metainfo['task'] == 'conversation'
    assert with_image.metainfo['conversation'][1]['value'] == 'Grey.'
    assert with_image.metainfo['img_shape'] == (64, 32)
    assert text_only.metainfo['img_shape'] == (64, 64)  # blank 16x16 resized
    assert ds[1]['inputs'].sum() == 0
    assert len(LLaVAInstructDataset(ann_file=ann, data_prefix=dict(img=str(tmp_path)),
                                    drop_text_only=True)) == 1


def test_bad_conversation_names_the_entry(tmp_path):
    ann = _write(tmp_path, [{'id': 'bad', 'conversations': [{'from': 'user', 'value': 'hi'}]}])
    with pytest.raises(ValueError, match=r'llava.json: entry 0 \(id bad\)'):
        LLaVAInstructDataset(ann_file=ann)


def test_prepare_llava_keeps_entries_with_images(tmp_path, repo_root):
    import subprocess
    import sys
    ann = _write(tmp_path, [
        {'id': 1, 'image': 'coco/a.jpg', 'conversations': []},
        {'id': 2, 'image': 'coco/missing.jpg', 'conversations': []},
        {'id': 3, 'conversations': []}])
    out = tmp_path / 'filtered.json'
    subprocess.run([sys.executable, f'{repo_root}/tools/dataset_converters/prepare_llava.py', ann,
                    '--image-root', str(tmp_path), '--out', str(out)], check=True)
    assert [e['id'] for e in json.loads(out.read_text())] == [1]
