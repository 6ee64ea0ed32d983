"""What tools/train.py and tools/test.py share: launcher arguments and config loading."""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='the directory for logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs such as '
        'train_cfg.max_iters=10 or "model.backbone.depth=18"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config with --cfg-options, the launcher and the work dir applied."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    # The Runner writes the config out four times (log, work-dir copy, visualizer backend,
    # checkpoint meta); yapf's formatting of a joint config takes about 3 s each time. The
    # unformatted text is the same config, only with longer lines. (``fromfile`` ignores its
    # ``format_python_code`` argument for non-lazy configs, hence the rebuild.)
    cfg = Config(cfg.to_dict(), cfg_text=cfg.text, filename=cfg.filename,
                 env_variables=cfg.env_variables, format_python_code=False)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """Start a gloo process group for ``--launcher pytorch`` on machines without CUDA.

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device``, which fails on a CPU-only
    build of torch; the Runner (and FlexibleRunner's strategies) skip their own initialisation
    once a process group exists. Their default wrappers pass a GPU device (DDP's
    ``device_ids``, FSDP's ``device_id``), so CPU runs get wrapper configs without it.
    """
    if cfg.launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    strategy = cfg.get('strategy')
    if strategy is not None:
        kind = strategy.get('type', '')
        if 'DeepSpeed' in kind:
            # Checked: ZeRO-2 gets through forward and backward on gloo, then DeepSpeed's
            # optimizer step fails in all_gather_into_tensor (in-place write to a split view).
            raise RuntimeError('DeepSpeedStrategy needs GPUs (NCCL); on CPU use DDP or FSDP')
        wrapper = strategy.get('model_wrapper') or {}
        if 'FSDP' in kind:
            strategy.model_wrapper = dict(wrapper, device_id=torch.device('cpu'))
        elif 'DDP' in kind:
            strategy.model_wrapper = {
                **dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                       find_unused_parameters=cfg.get('find_unused_parameters', False)),
                **wrapper, 'device_ids': None}
    elif cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    dist.init_process_group(backend='gloo')


def finish_distributed() -> None:
    """Tear the process group down before the interpreter exits.

    Left to interpreter shutdown, gloo's background threads can outlive the Python objects
    they serve, and a rank that already wrote its results then aborts ("terminate called
    without an active exception", exit code -6), failing the whole launch.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
