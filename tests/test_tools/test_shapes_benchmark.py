"""The main job, shortened: generate a small shapes set, pretrain the backbone and train the tiny
joint config for a few hundred iterations each, evaluate every task, and check that learning
happened."""
import json
import os.path as osp

MAX_ITERS = 600
PRETRAIN_ITERS = 300


def test_shapes_benchmark_learns(tmp_path, repo_root, run_tool):
    data, work = tmp_path / 'shapes', tmp_path / 'work'
    run_tool([osp.join(repo_root, 'tools', 'shapes_benchmark.py'), '--data-root', str(data),
              '--num-train', '400', '--num-val', '40', '--work-dir', str(work),
              '--max-iters', str(MAX_ITERS), '--pretrain-iters', str(PRETRAIN_ITERS),
              '--log-interval', '10', '--num-pictures', '1'],
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
    for task in ('panoptic', 'referring', 'interactive', 'gres'):  # every task evaluated
        assert summary['results'][task]
        assert list((work / 'pictures' / task).glob('*/vis/*.jpg')), task
