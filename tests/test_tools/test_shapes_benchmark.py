"""The main job, shortened: generate a small shapes set, pretrain the backbone and train the tiny
joint config for a few hundred iterations each, evaluate every task, and check that learning
happened."""
import json
import os.path as osp

from mmengine.config import Config, DictAction

from psalm.utils import import_script

MAX_ITERS = 600
PRETRAIN_ITERS = 300


def test_shapes_benchmark_learns(tmp_path, repo_root, run_tool):
    data, work = tmp_path / 'shapes', tmp_path / 'work'
    run_tool([osp.join(repo_root, 'tools', 'shapes_benchmark.py'), '--data-root', str(data),
              '--num-train', '400', '--num-val', '40', '--work-dir', str(work),
              '--max-iters', str(MAX_ITERS), '--pretrain-iters', str(PRETRAIN_ITERS),
              '--log-interval', '10', '--num-pictures', '1', '--calibration-sentences', '200'],
             tmp_path)
    summary = json.loads((work / 'results.json').read_text())

    # Stage 0 ran, and PSALM's training started from its backbone.
    backbone = work / 'backbone' / f'iter_{PRETRAIN_ITERS}.pth'
    assert backbone.is_file()
    train_logs = list((work / 'train').glob('*/*.log'))
    assert any(f'load backbone. in model from: {backbone}' in p.read_text() for p in train_logs)

    losses = [loss for _, loss in summary['loss_curve']]
    assert len(losses) == MAX_ITERS // 10
    # Mean of iterations 1-10 against the mean of the last 50 (batches mix tasks whose losses
    # differ several-fold, so one 10-iteration window at the end is noisy).
    first, last = losses[0], sum(losses[-5:]) / 5
    assert last < 0.5 * first, f'training loss fell only from {first:.2f} to {last:.2f}'

    referring = summary['results']['referring']
    for name, baseline in summary['baselines'].items():
        assert referring['cIoU'] > baseline['cIoU'] + 5, (name, referring, baseline)
    # gRES was evaluated at the threshold calibrated on train sentences, the reference's 0.6
    # reported beside it
    assert summary['gres_no_target_thr'] in _benchmark_module(repo_root).NO_TARGET_THRS
    table = (work / 'results.md').read_text()
    assert f"| {summary['gres_no_target_thr']:.2f} |" in table
    assert '| gres at the reference threshold 0.6 | gIoU / N-acc / T-acc |' in table
    test_logs = list((work / 'test_gres').glob('*/*.log'))
    assert any(f"no_target_thr={summary['gres_no_target_thr']}," in p.read_text()
               for p in test_logs)
    for task in ('panoptic', 'referring', 'interactive', 'gres'):  # every task evaluated
        assert summary['results'][task]
        assert list((work / 'pictures' / task).glob('*.jpg')), task


def _benchmark_module(repo_root):
    return import_script(osp.join(repo_root, 'tools', 'shapes_benchmark.py'))


def _with_options(config, opts):
    cfg = Config.fromfile(config)
    parsed = {}
    for opt in opts:  # what tools/train.py's --cfg-options makes of each
        key, value = opt.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(parsed)
    return cfg


def test_schedule_options_shorten_the_run_and_its_curriculum(repo_root):
    bench = _benchmark_module(repo_root)
    joint = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_phi_shapes_joint.py')
    pretrain = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_shapes_backbone-pretrain.py')
    cfg = _with_options(pretrain, bench.schedule_options(pretrain, 600))
    assert cfg.train_cfg.max_iters == 600 and cfg.train_cfg.val_interval == 600
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 100  # the warmup is kept
    assert (cosine.begin, cosine.end, cosine.T_max) == (100, 600, 500)

    first = joint
    full = Config.fromfile(first)
    assert bench.schedule_options(first, full.train_cfg.max_iters)[2:] == [
        'param_scheduler.0.end=100', 'param_scheduler.1.begin=100',
        f'param_scheduler.1.end={full.train_cfg.max_iters}',
        'param_scheduler.1.periods=' + str(list(full.param_scheduler[1].periods)).replace(' ', ''),
        f'param_scheduler.2.begin={full.panoptic_iters}',
        f'param_scheduler.2.end={full.panoptic_iters + 100}',
        f'train_dataloader.batch_sampler.ratio_milestones=[({full.panoptic_iters},[2,2,1,2,0.5])]',
        f'custom_hooks.0.at_iter={full.panoptic_iters}']
    cfg = _with_options(first, bench.schedule_options(first, 600))
    _, restart, joint_warmup = cfg.param_scheduler
    switch = cfg.train_dataloader.batch_sampler.ratio_milestones[0][0]
    # the sentence path is copied at the switch of the shortened run too
    assert cfg.custom_hooks[0].type == 'ConditionPathInitHook'
    assert cfg.custom_hooks[0].at_iter == switch
    # the phases keep their share of the post-warmup run: (panoptic - 100) / (max - 100) of 500
    after_warmup = full.train_cfg.max_iters - 100
    assert switch == 100 + round((full.panoptic_iters - 100) * 500 / after_warmup)
    assert (restart.begin, restart.end) == (100, 600)
    assert sum(restart.periods) == 500 and restart.periods[0] == switch - 100
    assert joint_warmup.begin == switch
    # its end is mapped as a position too (so it may differ from switch + the scaled length by
    # one, from rounding)
    assert joint_warmup.end == 100 + round(full.panoptic_iters * 500 / after_warmup)
