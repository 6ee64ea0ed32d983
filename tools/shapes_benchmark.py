"""The project's main job: the synthetic "shapes" benchmark, end to end on a CPU.

1. generates ``data/shapes`` (COCO panoptic + instances, RefCOCO-style refs, gRefCOCO-style
   expressions, COCO-Interactive prompts, LLaVA-style questions) if it is missing;
2. pretrains the tiny backbone by classifying the train segments from their mask-pooled features
   (``psalm_tiny_shapes_backbone-pretrain.py``; the released model's Swin-B came pretrained too);
3. trains the tiny PSALM joint config with ``tools/train.py`` from that backbone (panoptic,
   referring, gRES, interactive and conversation batches, drawn by the joint sampler);
4. evaluates every task on the val split with ``tools/test.py`` and the real metrics, and paints
   a few val predictions per task; gRES's no-target threshold is first calibrated on train
   sentences (the threshold of best balanced accuracy, N-acc and T-acc);
5. prints one table (also written to ``<work-dir>/results.md`` and ``results.json``), with the
   trivial referring baselines (whole-image mask, largest-object mask) for comparison.

    python tools/shapes_benchmark.py [--work-dir work_dirs/shapes] [--max-iters N]
        [--pretrain-iters N | --no-pretrain] [--checkpoint CKPT] [--calibration-sentences N]
"""
import argparse
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from glob import glob
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)
TRAIN_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_shapes_joint.py')
PRETRAIN_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_shapes_backbone-pretrain.py')
# task -> (test config, [(column, metric key)])
TASKS: Dict[str, Tuple[str, List[Tuple[str, str]]]] = {
    'panoptic': ('psalm_tiny_phi_shapes_test_panoptic.py',
                 [('PQ', 'coco_panoptic/PQ'), ('SQ', 'coco_panoptic/SQ'),
                  ('RQ', 'coco_panoptic/RQ'), ('PQ things', 'coco_panoptic/PQ_th'),
                  ('PQ stuff', 'coco_panoptic/PQ_st')]),
    'referring': ('psalm_tiny_phi_shapes_test_referring.py',
                  [('cIoU', 'refseg/cIoU'), ('gIoU', 'refseg/gIoU')]),
    'interactive': ('psalm_tiny_phi_shapes_test_interactive.py',
                    [(f'{t} mIoU', f'interactive/{t}_mIoU')
                     for t in ('point', 'scribble', 'box', 'mask')]),
    'gres': ('psalm_tiny_phi_shapes_test_gres.py',
             [('gIoU', 'gres/gIoU'), ('cIoU', 'gres/cIoU'), ('N-acc', 'gres/N_acc'),
              ('T-acc', 'gres/T_acc')]),
}
# The targets on the val split.
TARGETS = {'panoptic/PQ': 50.0, 'referring/cIoU': 70.0, 'interactive/point mIoU': 70.0,
           'gres/gIoU': 60.0, 'gres/N-acc': 70.0}
# No-target thresholds swept on train sentences (GRESMetric(no_target_thrs=...)).
NO_TARGET_THRS = [round(0.5 + 0.01 * i, 2) for i in range(46)]  # 0.50 ... 0.95
# ``--cfg-options`` that train without validation, as the stage-0 config does (no val loop is
# built): every task is evaluated with tools/test.py right after training.
NO_VALIDATION = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def run(cmd: Sequence[str], log_file: Optional[str] = None) -> None:
    """Run a tool with this interpreter; stream its output (and tee it into ``log_file``)."""
    print('+', ' '.join(cmd), flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as proc, \
            open(log_file or os.devnull, 'w') as log:
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
    if proc.returncode:
        raise SystemExit(f'{cmd[1]} failed with exit code {proc.returncode}')


def latest_metrics(work_dir: str) -> dict:
    """The metrics json tools/test.py wrote last under ``work_dir``."""
    files = sorted(glob(osp.join(work_dir, '*', '*.json')), key=osp.getmtime)
    if not files:
        raise FileNotFoundError(f'no metrics json under {work_dir}: did tools/test.py run?')
    with open(files[-1]) as f:
        return json.load(f)


def train_losses(train_dir: str) -> List[Tuple[int, float]]:
    """(iteration, total loss) of every logged training step (MMEngine's scalars.json)."""
    files = sorted(glob(osp.join(train_dir, '*', 'vis_data', 'scalars.json')), key=osp.getmtime)
    curve = []
    for path in files:
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                if 'loss' in entry and 'iter' in entry:
                    curve.append((int(entry['iter']), float(entry['loss'])))
    return curve


def referring_baselines(data_root: str, refs_file: str, instances_file: str,
                        split: str = 'val') -> Dict[str, float]:
    """cIoU / gIoU (%) of two trivial referring predictors on ``split``, one per expression as in
    the per-sentence protocol: the whole image, and the largest object of the image."""
    from pycocotools import mask as mask_util
    from pycocotools.coco import COCO
    with open(osp.join(data_root, refs_file)) as f:
        refs = [r for r in json.load(f) if r['split'] == split]
    coco = COCO(osp.join(data_root, instances_file))
    out = {}
    for name in ('whole image', 'largest object'):
        inter = union = 0
        ious = []
        for ref in refs:
            target = coco.annToMask(coco.anns[ref['ann_id']]).astype(bool)
            if name == 'whole image':
                pred = np.ones_like(target)
            else:
                anns = coco.imgToAnns[ref['image_id']]
                largest = max(anns, key=lambda a: mask_util.area(coco.annToRLE(a)))
                pred = coco.annToMask(largest).astype(bool)
            i, u = int((pred & target).sum()), int((pred | target).sum())
            for _ in ref['sentences']:  # one prediction per expression
                inter, union = inter + i, union + u
                ious.append(i / u if u else 1.0)
        out[name] = dict(cIoU=100 * inter / max(union, 1), gIoU=100 * float(np.mean(ious)))
    return out


def format_table(results: Dict[str, Dict[str, float]], baselines: Dict[str, Dict[str, float]],
                 extra_rows: Sequence[str] = ()) -> str:
    rows = ['| task | metric | value | target |', '|---|---|---|---|']
    for task, values in results.items():
        for column, value in values.items():
            target = TARGETS.get(f'{task}/{column}')
            rows.append(f'| {task} | {column} | {value:.1f} | '
                        f'{">= %.0f" % target if target else ""} |')
    rows += extra_rows
    for name, values in baselines.items():
        rows.append(f'| referring baseline: {name} | cIoU / gIoU | '
                    f'{values["cIoU"]:.1f} / {values["gIoU"]:.1f} | |')
    return '\n'.join(rows)


def calibrate_no_target(config: str, checkpoint: str, out_dir: str, num_sentences: int,
                        root_options: Sequence[str]) -> float:
    """gRES's no-target threshold: of ``NO_TARGET_THRS``, the one of best balanced accuracy
    ((N-acc + T-acc) / 2) on the first ``num_sentences`` train sentences (``config``: the gres
    test config, pointed at the train split)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    opts = list(root_options) + [
        'test_dataloader.dataset.split=train',
        'test_dataloader.dataset.data_prefix.img_path=train/',
        f'test_dataloader.dataset.indices={num_sentences}',
        'test_evaluator.no_target_thrs=[' + ','.join(map(str, NO_TARGET_THRS)) + ']']
    run([sys.executable, osp.join(TOOLS, 'test.py'), config, checkpoint, '--work-dir', out_dir,
         '--cfg-options', *opts])
    thr = float(latest_metrics(out_dir)['gres/no_target_thr_balanced'])
    if math.isnan(thr):  # no no-target (or no targeted) sentence among them
        raise SystemExit(f'no-target calibration: the first {num_sentences} train sentences need '
                         'both kinds; raise --calibration-sentences or pass 0')
    return thr


def data_root_options(config: str, data_root: str,
                      default_root: str = 'data/shapes/') -> List[str]:
    """``--cfg-options`` that move every path of ``config`` under ``default_root`` (datasets'
    ``data_root``, evaluators' files) to ``data_root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    new_root = osp.join(osp.abspath(data_root), '')
    options = []

    def visit(node, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, f'{key}.{k}')
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{key}.{i}')
        elif isinstance(node, str) and node.startswith(default_root):
            options.append(f'{key}={new_root}{node[len(default_root):]}')

    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                 'test_evaluator'):
        if cfg.get(name) is not None:
            visit(cfg[name], name)
    return options


def schedule_options(config: str, iters: int) -> List[str]:
    """``--cfg-options`` that make ``config`` train ``iters`` iterations.

    The warmup (the first scheduler, cut to ``iters``) is kept; the rest of the run is mapped
    linearly onto the remaining iterations: the begin / end of the later schedulers, their
    lengths (``T_max``, ``periods``), the task-ratio milestones of a curriculum and the ``at_iter``
    of its custom hooks.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    max_iters = cfg.train_cfg.max_iters
    schedulers = cfg.param_scheduler
    warmup = schedulers[0]['end']
    new_warmup = min(warmup, iters)
    scale = (iters - new_warmup) / max(max_iters - warmup, 1)

    def at(step: int) -> int:  # a position of the original run in the new one
        return new_warmup + round((step - warmup) * scale) if step > warmup else min(step, iters)

    opts = [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'param_scheduler.0.end={new_warmup}']
    for i, scheduler in enumerate(schedulers[1:], 1):
        begin, end = at(scheduler.get('begin', 0)), at(scheduler.get('end', max_iters))
        opts += [f'param_scheduler.{i}.begin={begin}', f'param_scheduler.{i}.end={end}']
        if 'T_max' in scheduler:
            opts.append(f'param_scheduler.{i}.T_max={max(round(scheduler["T_max"] * scale), 1)}')
        if 'periods' in scheduler:  # lengths that still add up to the scheduler's span
            periods = [max(round(p * scale), 1) for p in scheduler['periods'][:-1]]
            periods.append(max(end - begin - sum(periods), 1))
            opts.append(f'param_scheduler.{i}.periods={periods}'.replace(' ', ''))
    milestones = cfg.train_dataloader.get('batch_sampler', {}).get('ratio_milestones')
    if milestones:
        scaled = [(at(start), list(ratios)) for start, ratios in milestones]
        opts.append('train_dataloader.batch_sampler.ratio_milestones='
                    + repr(scaled).replace(' ', ''))
    for i, hook in enumerate(cfg.get('custom_hooks', [])):
        if 'at_iter' in hook:  # a hook tied to a point of the curriculum (ConditionPathInitHook)
            opts.append(f'custom_hooks.{i}.at_iter={at(hook["at_iter"])}')
    return opts


def last_checkpoint(train_dir: str) -> str:
    """The checkpoint that ``tools/train.py`` saved last in ``train_dir``."""
    path = osp.join(train_dir, 'last_checkpoint')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} is missing: did tools/train.py save a checkpoint?')
    with open(path) as f:
        return f.read().strip()


def train_stage(args: argparse.Namespace, config: str, out_dir: str, iters: Optional[int],
                custom_root: bool, extra: Sequence[str] = ()) -> Tuple[str, float]:
    """Train ``config`` with ``tools/train.py`` into ``out_dir`` (``iters`` iterations if given,
    extra ``--cfg-options`` ``extra``); return its last checkpoint and the seconds it took."""
    opts = data_root_options(config, args.data_root) if custom_root else []
    if iters:
        opts += schedule_options(config, iters)
    if args.log_interval:
        opts += [f'default_hooks.logger.interval={args.log_interval}']
    # last: an option that sets a key to None (NO_VALIDATION) must come after the options
    # below that key (data_root_options), or merging them fails
    opts += list(extra)
    cmd = [sys.executable, osp.join(TOOLS, 'train.py'), config, '--work-dir', out_dir]
    start = time.time()
    run(cmd + (['--cfg-options', *opts] if opts else []))
    return last_checkpoint(out_dir), time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/shapes')
    parser.add_argument('--data-root', default='data/shapes',
                        help='generated here if missing (the configs read data/shapes/)')
    parser.add_argument('--config', default=TRAIN_CONFIG, help='training config')
    parser.add_argument('--max-iters', type=int, help='shorter or longer training than the config')
    parser.add_argument('--pretrain-config', default=PRETRAIN_CONFIG,
                        help='backbone pretraining config (stage 0)')
    parser.add_argument('--pretrain-iters', type=int,
                        help='shorter or longer backbone pretraining than its config')
    parser.add_argument('--no-pretrain', action='store_true',
                        help='train PSALM from a randomly initialised backbone')
    parser.add_argument('--log-interval', type=int,
                        help="log (and record in the loss curve) every N iterations, not the config's")
    parser.add_argument('--num-train', type=int, help='images of a newly generated train split')
    parser.add_argument('--num-val', type=int, help='images of a newly generated val split')
    parser.add_argument('--checkpoint', help='skip training and evaluate this checkpoint')
    parser.add_argument('--num-pictures', type=int, default=4,
                        help='painted val samples per task (the first ones)')
    parser.add_argument('--calibration-sentences', type=int, default=1500,
                        help='train sentences that calibrate the gRES no-target threshold '
                        "(0: the test config's threshold)")
    args = parser.parse_args()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    custom_root = osp.abspath(args.data_root) != osp.abspath('data/shapes')

    generate = [sys.executable, osp.join(TOOLS, 'dataset_converters', 'generate_shapes.py'),
                args.data_root]
    if args.num_train:
        generate += ['--num-train', str(args.num_train)]
    if args.num_val:
        generate += ['--num-val', str(args.num_val)]
    if osp.isfile(osp.join(args.data_root, 'meta.json')) and not (args.num_train or args.num_val):
        print(f'using the shapes set in {args.data_root}')  # whatever its size
    else:
        run(generate)  # skips a complete set made with the same settings

    timings = {}
    checkpoint = args.checkpoint
    train_dir = osp.join(work_dir, 'train')
    if checkpoint is None:
        if args.no_pretrain:
            init = ['model.backbone.init_cfg=None']  # from random weights
        else:  # stage 0: RegionClassifier on the train segments
            backbone, timings['pretrain_s'] = train_stage(
                args, args.pretrain_config, osp.join(work_dir, 'backbone'), args.pretrain_iters,
                custom_root)
            init = [f'model.backbone.init_cfg.checkpoint={backbone}']
        checkpoint, timings['train_s'] = train_stage(args, args.config, train_dir, args.max_iters,
                                                      custom_root, init + NO_VALIDATION)

    results: Dict[str, Dict[str, float]] = {}
    extra_rows: List[str] = []
    no_target_thr = None
    config_dir = osp.dirname(args.config)
    for task, (config, columns) in TASKS.items():
        config = osp.join(config_dir, config)
        test_dir = osp.join(work_dir, f'test_{task}')
        pictures = osp.join(work_dir, 'pictures', task)
        for old in (test_dir, pictures):
            shutil.rmtree(old, ignore_errors=True)
        opts = data_root_options(config, args.data_root) if custom_root else []
        if task == 'gres' and args.calibration_sentences:
            start = time.time()
            no_target_thr = calibrate_no_target(config, checkpoint,
                                                osp.join(work_dir, 'calibrate_gres'),
                                                args.calibration_sentences, opts)
            timings['calibrate_gres_s'] = time.time() - start
            opts.append(f'model.test_cfg.postprocess.gres.0.no_target_thr={no_target_thr}')
        cmd = [sys.executable, osp.join(TOOLS, 'test.py'), config, checkpoint, '--work-dir', test_dir]
        if args.num_pictures:  # painted during the evaluation pass (an absolute --show-dir)
            cmd += ['--show-dir', pictures]
            opts.append(f'default_hooks.visualization.max_test_images={args.num_pictures}')
        start = time.time()
        run(cmd + (['--cfg-options', *opts] if opts else []))
        timings[f'test_{task}_s'] = time.time() - start
        metrics = latest_metrics(test_dir)
        results[task] = {column: float(metrics[key]) for column, key in columns}
        if task == 'gres':
            if no_target_thr is not None:
                extra_rows.append(f'| gres | no-target threshold (best balanced accuracy on '
                                  f'{args.calibration_sentences} train sentences) | '
                                  f'{no_target_thr:.2f} | |')
            if 'gres/gIoU@0.6' in metrics:
                extra_rows.append('| gres at the reference threshold 0.6 | gIoU / N-acc / T-acc | '
                                  + ' / '.join(f'{metrics[f"gres/{k}@0.6"]:.1f}'
                                               for k in ('gIoU', 'N_acc', 'T_acc')) + ' | |')

    baselines = referring_baselines(args.data_root, 'refer/refs.json', 'refer/instances.json')
    curve = train_losses(train_dir) if args.checkpoint is None else []
    table = format_table(results, baselines, extra_rows)
    print('\n' + table)
    if curve:
        print(f'training loss: {curve[0][1]:.3f} at iter {curve[0][0]} -> '
              f'{curve[-1][1]:.3f} at iter {curve[-1][0]}')
    minutes = {k[:-2]: v / 60 for k, v in timings.items()}
    print('minutes: ' + ', '.join(f'{k} {v:.1f}' for k, v in minutes.items()))
    summary = dict(results=results, baselines=baselines, loss_curve=curve, timings=timings,
                   checkpoint=checkpoint, gres_no_target_thr=no_target_thr)
    tmp = osp.join(work_dir, 'results.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, osp.join(work_dir, 'results.json'))
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    print(f'results: {osp.join(work_dir, "results.md")}; pictures: {work_dir}/pictures/<task>/')


if __name__ == '__main__':
    main()
