"""Train a PSALM (or any mmdet) config with MMEngine's Runner.

Same arguments as MMDetection's ``tools/train.py``. Works from any working directory once the
environment from ``tools/setup_env.sh`` is active (``psalm`` is an installed package).

A config with a ``strategy`` (DeepSpeed ZeRO, FSDP: ``configs/psalm/*_zero2.py``, ``*_fsdp.py``)
runs with MMEngine's ``FlexibleRunner``; every other config with MMEngine's ``Runner`` (DDP under
``--launcher pytorch|slurm``).
"""
import argparse
import os.path as osp

import psalm  # noqa: F401  (registers modules and the safe checkpoint allow-list)
from _runner_args import (add_common_args, finish_distributed, init_cpu_distributed, load_config,
                          parse)
from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import FlexibleRunner, Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    add_common_args(parser)
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no path is given')
    return parse(parser)


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args)
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'DeepSpeedOptimWrapper':
            raise ValueError('--amp does not apply to DeepSpeed: set the precision in the '
                             "config's strategy (fp16=..., bf16=... or config.torch_autocast)")
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr.base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    # Avoid recompilation limits when torch.compile is enabled by a config.
    setup_cache_size_limit_of_dynamo()
    cfg = build_config(args)
    init_cpu_distributed(cfg)
    if cfg.get('strategy') is not None:
        runner = FlexibleRunner.from_cfg(cfg)
    elif 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
