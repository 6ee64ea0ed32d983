"""The tiny PSALM joint config through tools/train.py and tools/test.py on generated data:
panoptic + conversation batches, resume, and mmdet's CocoPanopticMetric on the predictions."""
import json
import os.path as osp

from psalm.testing import make_toy_coco, make_toy_coco_panoptic, make_toy_refer

CONFIG = 'configs/psalm/psalm_tiny_phi_joint.py'


def _data(root, repo_root, run_tool):
    train = make_toy_coco_panoptic(str(root / 'coco'), 'train', num_images=4, seed=0)
    val = make_toy_coco_panoptic(str(root / 'coco'), 'val', num_images=2, seed=1)
    for k, (name, refs) in enumerate((('refcoco', 'refs(unc).p'), ('refcoco+', 'refs(unc).p'),
                                      ('refcocog', 'refs(umd).p'))):
        make_toy_refer(str(root / 'refer'), name, refs, num_images=3, seed=k)
    make_toy_coco(str(root / 'inter'), 'train', num_images=3, seed=2)
    run_tool([osp.join(repo_root, 'tools', 'dataset_converters', 'build_coco_interactive.py'),
              str(root / 'inter' / 'annotations' / 'instances_train.json'),
              str(root / 'inter' / 'interactive.json')], root)
    (root / 'llava').mkdir()
    (root / 'llava' / 'conv.json').write_text(json.dumps([
        {'id': 1, 'image': '../coco/train/train_0001.jpg', 'conversations': [
            {'from': 'human', 'value': '<image>\nHow many shapes?'},
            {'from': 'gpt', 'value': 'Two.'}]},
        {'id': 2, 'conversations': [{'from': 'human', 'value': 'Say hi.'},
                                    {'from': 'gpt', 'value': 'Hi.'}]}]))
    coco, meta = str(root / 'coco') + '/', train['metainfo']
    pan = 'train_dataloader.dataset.datasets.0'
    opts = [f'{pan}.data_root={coco}', f'{pan}.ann_file={train["ann_file"]}',
            f'{pan}.data_prefix.img={train["img_dir"]}', f'{pan}.data_prefix.seg={train["seg_dir"]}',
            f'{pan}.metainfo.classes={list(meta["classes"])}',
            f'{pan}.metainfo.thing_classes={list(meta["thing_classes"])}',
            f'{pan}.metainfo.stuff_classes={list(meta["stuff_classes"])}',
            f'{pan}.filter_cfg.min_size=8',
            'train_dataloader.dataset.datasets.2.data_root=' + str(root / 'inter') + '/',
            'train_dataloader.dataset.datasets.2.ann_file=interactive.json',
            'train_dataloader.dataset.datasets.2.data_prefix.img=train/',
            'train_dataloader.dataset.datasets.3.data_root=' + str(root / 'llava') + '/',
            'train_dataloader.dataset.datasets.3.ann_file=conv.json',
            'train_dataloader.batch_sampler.seed=3']
    opts += [f'train_dataloader.dataset.datasets.1.datasets.{k}.data_root={root / "refer"}/'
             for k in range(3)]
    for loader in ('val_dataloader', 'test_dataloader'):
        d = f'{loader}.dataset'
        opts += [f'{d}.data_root={coco}', f'{d}.ann_file={val["ann_file"]}',
                 f'{d}.data_prefix.img={val["img_dir"]}', f'{d}.data_prefix.seg={val["seg_dir"]}',
                 f'{d}.metainfo.classes={list(meta["classes"])}',
                 f'{d}.metainfo.thing_classes={list(meta["thing_classes"])}',
                 f'{d}.metainfo.stuff_classes={list(meta["stuff_classes"])}']
    for ev in ('val_evaluator', 'test_evaluator'):
        opts += [f'{ev}.ann_file={coco}{val["ann_file"]}', f'{ev}.seg_prefix={coco}{val["seg_dir"]}']
    return opts


def test_tiny_psalm_train_resume_test(tmp_path, repo_root, run_tool):
    _run = run_tool
    opts = _data(tmp_path, repo_root, run_tool)
    config = osp.join(repo_root, CONFIG)
    work = tmp_path / 'work'
    common = ['--work-dir', str(work), '--cfg-options', *opts, 'train_cfg.val_interval=100',
              'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
              'param_scheduler.0.end=2', 'param_scheduler.1.begin=2', 'param_scheduler.1.T_max=6',
              'param_scheduler.1.end=8']
    log = _run([osp.join(repo_root, 'tools', 'train.py'), config, *common,
                'train_cfg.max_iters=2'], tmp_path)
    log += _run([osp.join(repo_root, 'tools', 'train.py'), config, '--resume',
                str(work / 'iter_2.pth'), *common, 'train_cfg.max_iters=8'], tmp_path)
    assert 'resumed epoch: 0, iter: 2' in log
    for key in ('loss_category', 'loss_sentence', 'loss_region', 'loss_llm'):  # all tasks drawn
        assert key in log, key
    _run([osp.join(repo_root, 'tools', 'test.py'), config, str(work / 'iter_8.pth'),
          '--work-dir', str(tmp_path / 'test'), '--cfg-options', *opts], tmp_path)
    metrics = json.loads(next((tmp_path / 'test').glob('*/*.json')).read_text())
    assert 'coco_panoptic/PQ' in metrics and 0.0 <= metrics['coco_panoptic/PQ'] <= 100.0
