"""Inference benchmark of a PSALM config: images/s, peak memory and a per-stage time breakdown.

    python tools/analysis_tools/benchmark.py CONFIG [--checkpoint CKPT] [--task panoptic]
        [--batch-size 1] [--num-iters 5] [--warmup 1] [--device cpu] [--out result.json]

Inputs are synthetic (random pixels on the config's canvas; for panoptic, --num-categories
generic names), so the numbers measure the model, not a dataset. Without --checkpoint the
weights are random, which does not change the cost.
"""
import argparse
import json
import os.path as osp
import platform
import resource
import time
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import load_checkpoint

import psalm  # noqa: F401
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules

STAGES = ('backbone', 'projector', 'llm', 'pixel_decoder', 'transformer_decoder',
          'postprocess')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='optional weights; random init without it')
    parser.add_argument('--task', default='panoptic',
                        choices=['panoptic', 'referring', 'interactive'])
    parser.add_argument('--num-categories', type=int, default=133)
    parser.add_argument('--num-regions', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-iters', type=int, default=5, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def make_batch(model, task: str, batch_size: int, num_categories: int,
               num_regions: int) -> dict:
    canvas = model.data_preprocessor.canvas_size
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for _ in range(batch_size):
        h, w = canvas
        meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), task=task)
        if task == 'panoptic':
            meta['categories'] = [f'category {i}' for i in range(num_categories)]
            meta['is_thing'] = [i < num_categories * 0.6 for i in range(num_categories)]
        elif task == 'referring':
            meta['text'] = 'the man in the red shirt standing on the left of the car'
        else:
            masks = np.zeros((num_regions, h, w), bool)
            for k in range(num_regions):
                y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
                masks[k, y:y + h // 4, x:x + w // 4] = True
            meta['region_masks'] = masks
        sample = DetDataSample()
        sample.set_metainfo(meta)
        samples.append(sample)
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)))
    return dict(inputs=inputs, data_samples=samples)


class StageTimer:
    """Wall time per stage, through forward hooks (synchronising CUDA at each boundary)."""

    def __init__(self, model, device: str) -> None:
        self.device = device
        self.times: Dict[str, float] = defaultdict(float)
        self._start: Dict[int, float] = {}
        gen = model.mask_generator
        modules = dict(backbone=[model.backbone], projector=[model.projector],
                       llm=[model.language_model], pixel_decoder=[gen.pixel_decoder],
                       transformer_decoder=list(gen.transformer_decoder.layers))
        for stage, mods in modules.items():
            for m in mods:
                m.register_forward_pre_hook(self._pre)
                m.register_forward_hook(self._make_post(stage))
        original = model._postprocess

        def timed_postprocess(*args, **kwargs):
            self._sync()
            t = time.perf_counter()
            original(*args, **kwargs)
            self._sync()
            self.times['postprocess'] += time.perf_counter() - t
        model._postprocess = timed_postprocess

    def _sync(self) -> None:
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()

    def _pre(self, module, args) -> None:
        self._sync()
        self._start[id(module)] = time.perf_counter()

    def _make_post(self, stage: str):
        def post(module, args, output) -> None:
            self._sync()
            self.times[stage] += time.perf_counter() - self._start.pop(id(module))
        return post

    def reset(self) -> None:
        self.times.clear()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    t0 = time.perf_counter()
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    model = model.to(args.device).eval()
    build_s = time.perf_counter() - t0
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    timer = StageTimer(model, args.device)

    iter_times: List[float] = []
    for it in range(args.warmup + args.num_iters):
        if it == args.warmup:
            timer.reset()
        batch = make_batch(model, args.task, args.batch_size, args.num_categories,
                           args.num_regions)
        timer._sync()
        t = time.perf_counter()
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            model.predict(data['inputs'], data['data_samples'])
        timer._sync()
        if it >= args.warmup:
            iter_times.append(time.perf_counter() - t)

    total = sum(iter_times)
    per_batch = {k: timer.times.get(k, 0.0) / args.num_iters for k in STAGES}
    per_batch['other (prompt assembly, scoring, preprocessing)'] = \
        total / args.num_iters - sum(per_batch.values())
    result = dict(
        config=osp.basename(args.config), task=args.task, device=args.device,
        device_name=(torch.cuda.get_device_name() if args.device.startswith('cuda')
                     else platform.processor() or platform.machine()),
        threads=torch.get_num_threads(), batch_size=args.batch_size,
        canvas=list(model.data_preprocessor.canvas_size), iterations=args.num_iters,
        images_per_s=args.batch_size * args.num_iters / total,
        seconds_per_batch=total / args.num_iters,
        stage_seconds_per_batch=per_batch,
        peak_cpu_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        model_build_s=build_s,
        parameters=sum(p.numel() for p in model.parameters()))
    if args.device.startswith('cuda'):
        result['peak_cuda_gib'] = torch.cuda.max_memory_allocated() / 2**30
    print(f"{result['config']} | task {args.task} | batch {args.batch_size} | {args.device} "
          f"({result['threads']} threads)")
    print(f"images/s: {result['images_per_s']:.3f}   s/batch: {result['seconds_per_batch']:.3f}   "
          f"peak RSS: {result['peak_cpu_rss_gib']:.2f} GiB"
          + (f"   peak CUDA: {result['peak_cuda_gib']:.2f} GiB" if 'peak_cuda_gib' in result else ''))
    for stage, sec in per_batch.items():
        print(f'  {stage:<50s} {sec:8.3f} s  {100 * sec / result["seconds_per_batch"]:5.1f} %')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
