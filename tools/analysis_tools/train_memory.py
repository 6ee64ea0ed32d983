"""Training memory per GPU of a PSALM config: model states counted, activations measured.

    python tools/analysis_tools/train_memory.py CONFIG [--task panoptic] [--num-gts 20]
        [--batch-per-gpu 4] [--gpus 16] [--autocast bf16|fp16|none] [--threads N]
        [--cfg-options ...] [--out result.json]

Runs anywhere (CPU included), so memory can be planned before a GPU is rented:

- Model states are counted from the built model: every parameter in fp32 (AmpOptimWrapper,
  DeepSpeed with ``torch_autocast`` and FSDP all keep fp32 master weights), fp32 gradients and
  the two AdamW moments of the trainable ones. Per GPU that is all of it under DDP, and the
  gradients and moments divided by the number of GPUs under ZeRO-2 / FSDP ``SHARD_GRAD_OP``.
- Activations are measured: one training forward pass (the loss included) on a synthetic sample
  at the config's canvas, counting the bytes of every tensor autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``, one count per storage, parameters excluded,
  autocast's low-precision weight copies included), per component. Under LLM gradient
  checkpointing the layers keep only their inputs, which are counted instead. mmcv has no CPU
  kernel for deformable attention; its PyTorch fallback is made to keep what the CUDA kernel
  keeps, so the figures are a GPU's.

Not included (add a margin): the CUDA context (about 0.5 GiB), the allocator's caching and
fragmentation, temporary buffers inside kernels, DDP's gradient buckets (+ one copy of the
trainable gradients at most) and the gradients of the backward pass in flight.
"""
import argparse
import json
import os.path as osp
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from typing import Dict, List

import mmcv.ops.multi_scale_deform_attn as msda
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData

import psalm  # noqa: F401
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

GIB = 2**30
msda_pytorch = msda.multi_scale_deformable_attn_pytorch  # the original, before any patch
COMPONENTS = ('backbone', 'projector', 'prompt_encoder', 'language_model',
              'mask_generator.pixel_decoder', 'mask_generator', 'criterion')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--task', default='panoptic', choices=['panoptic', 'referring',
                                                                'interactive'])
    parser.add_argument('--num-categories', type=int, default=133,
                        help='panoptic: category names in the prompt (COCO: 133)')
    parser.add_argument('--num-gts', type=int, default=20,
                        help='ground-truth masks (panoptic), regions (interactive)')
    parser.add_argument('--batch-per-gpu', type=int,
                        help="images per GPU (default: the config's train batch size)")
    parser.add_argument('--gpus', type=int, default=16, help='GPUs sharding ZeRO-2 / FSDP states')
    parser.add_argument('--autocast', default='bf16', choices=['bf16', 'fp16', 'none'],
                        help='precision of the measured forward pass (AmpOptimWrapper dtype)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def make_sample(task: str, canvas: tuple, num_categories: int, num_gts: int,
                seed: int = 0) -> DetDataSample:
    """A training sample filling the canvas, with ``num_gts`` rectangles as ground truth."""
    h, w = canvas
    rng = np.random.default_rng(seed)
    masks = np.zeros((num_gts, h, w), np.uint8)
    for k in range(num_gts):
        y, x = rng.integers(0, h * 3 // 4), rng.integers(0, w * 3 // 4)
        masks[k, y:y + h // 5, x:x + w // 5] = 1
    info = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), task=task)
    gt = InstanceData()
    if task == 'panoptic':
        info['categories'] = [f'category number {i}' for i in range(num_categories)]
        info['is_thing'] = [i < num_categories * 0.6 for i in range(num_categories)]
        gt.labels = torch.from_numpy(rng.integers(0, num_categories, num_gts))
    elif task == 'referring':
        info['text'] = 'the man in the red shirt standing on the left of the white car'
        masks = masks[:1]
    else:
        info['region_masks'] = masks.astype(bool)
    gt.masks = BitmapMasks(masks, h, w)
    sample = DetDataSample()
    sample.set_metainfo(info)
    sample.gt_instances = gt
    return sample


class SavedTensorMeter:
    """Bytes autograd saves for backward, per component (the innermost one running)."""

    def __init__(self, model: torch.nn.Module, components=COMPONENTS) -> None:
        self.bytes: Dict[str, int] = defaultdict(int)
        self.checkpointed_inputs = 0
        self._seen: set = set()
        self._stack: List[str] = ['other']
        self._params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        for name in components:
            module = model.get_submodule(name)
            module.register_forward_pre_hook(self._enter(name))
            module.register_forward_hook(self._leave)
        llm = getattr(model, 'language_model', None)
        if getattr(llm, 'gradient_checkpointing', False):
            # Checkpointed layers hide their saves from outer hooks and keep their inputs.
            for layer in llm.model.model.layers:
                layer.register_forward_pre_hook(self._count_layer_input, with_kwargs=True)

    def _enter(self, name: str):
        def hook(module, args) -> None:
            self._stack.append(name)
        return hook

    def _leave(self, module, args, output) -> None:
        self._stack.pop()

    def _count_layer_input(self, module, args, kwargs) -> None:
        hidden = args[0] if args else kwargs['hidden_states']
        self._add(hidden, 'language_model')

    def _add(self, t: torch.Tensor, component: str) -> None:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self._params or key in self._seen or t.device.type == 'meta':
            return
        self._seen.add(key)
        self.bytes[component] += storage.nbytes()

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        self._add(t, self._stack[-1])
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t


class _KernelLikeDeformAttn(torch.autograd.Function):
    """mmcv's pure-PyTorch deformable attention (what runs on CPU) keeping for backward only
    what mmcv's CUDA kernel keeps (value, shapes, sampling locations, attention weights),
    not the intermediates of its ``grid_sample`` calls: the measurement then matches a GPU."""

    @staticmethod
    def forward(ctx, value, spatial_shapes, sampling_locations, attention_weights):
        ctx.save_for_backward(value, spatial_shapes, sampling_locations, attention_weights)
        with torch.no_grad():
            return msda_pytorch(value, spatial_shapes, sampling_locations, attention_weights)

    @staticmethod
    def backward(ctx, grad_output):
        value, shapes, locations, weights = ctx.saved_tensors
        inputs = [t.detach().requires_grad_(t.requires_grad) for t in (value, locations, weights)]
        with torch.enable_grad():
            out = msda_pytorch(inputs[0], shapes, inputs[1], inputs[2])
        wanted = [t for t in inputs if t.requires_grad]
        grads = iter(torch.autograd.grad(out, wanted, grad_output)) if wanted else iter(())
        g = [next(grads) if t.requires_grad else None for t in inputs]
        return g[0], None, g[1], g[2]


@contextmanager
def kernel_like_deform_attn():
    """Patch mmcv's CPU path of ``MultiScaleDeformableAttention`` with
    :class:`_KernelLikeDeformAttn` (a no-op on CUDA, where mmcv runs its kernel)."""
    msda.multi_scale_deformable_attn_pytorch = _KernelLikeDeformAttn.apply
    try:
        yield
    finally:
        msda.multi_scale_deformable_attn_pytorch = msda_pytorch


def count_params(model: torch.nn.Module) -> Dict[str, Dict[str, int]]:
    counts = {}
    for name in COMPONENTS:
        params = list(model.get_submodule(name).parameters())
        counts[name] = dict(total=sum(p.numel() for p in params),
                            trainable=sum(p.numel() for p in params if p.requires_grad))
    # The pixel decoder is inside the mask generator: report the rest of it on its own.
    for key in ('total', 'trainable'):
        counts['mask_generator'][key] -= counts['mask_generator.pixel_decoder'][key]
    return counts


def states_per_gpu(total: int, trainable: int, gpus: int) -> Dict[str, float]:
    """GiB of fp32 weights + fp32 gradients + AdamW moments on one GPU."""
    weights = 4 * total
    return dict(
        ddp=(weights + 4 * trainable + 8 * trainable) / GIB,
        zero2_or_fsdp_shard_grad_op=(weights + 12 * trainable / gpus) / GIB)


def measure(model, sample: DetDataSample, autocast: str) -> Dict[str, object]:
    meter = SavedTensorMeter(model)
    h, w = sample.metainfo['img_shape']
    image = torch.randint(0, 256, (3, h, w), generator=torch.Generator().manual_seed(0),
                          dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16).get(autocast)
    ctx = torch.autocast('cpu', dtype=dtype) if dtype is not None else nullcontext()
    t = time.perf_counter()
    with ctx, kernel_like_deform_attn(), \
            torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack):
        losses = model.loss(data['inputs'], data['data_samples'])
    seconds = time.perf_counter() - t
    del losses
    return dict(activation_bytes_per_image=dict(meter.bytes), forward_seconds=seconds)


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    batch = args.batch_per_gpu or cfg.train_dataloader.batch_size
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()

    params = count_params(model)
    total = sum(c['total'] for c in params.values())
    trainable = sum(c['trainable'] for c in params.values())
    states = states_per_gpu(total, trainable, args.gpus)

    canvas = model.data_preprocessor.canvas_size
    sample = make_sample(args.task, canvas, args.num_categories, args.num_gts)
    tokens: List[int] = []
    handle = model.language_model.register_forward_pre_hook(
        lambda m, a: tokens.append(int(a[0].shape[1])))
    result = measure(model, sample, args.autocast)
    handle.remove()
    act = result['activation_bytes_per_image']
    act_gib = sum(act.values()) / GIB
    result.update(
        config=osp.basename(args.config), task=args.task, autocast=args.autocast,
        canvas=list(canvas), llm_tokens=tokens[0] if tokens else None,
        gradient_checkpointing=model.language_model.gradient_checkpointing,
        parameters=params, parameters_total=total, parameters_trainable=trainable,
        gpus=args.gpus, batch_per_gpu=batch,
        model_states_gib=states,
        activations_gib_per_image=act_gib,
        estimate_gib_per_gpu={k: v + batch * act_gib for k, v in states.items()})

    print(f"{result['config']} | task {args.task} ({result['llm_tokens']} LLM tokens) | "
          f"autocast {args.autocast} | LLM gradient checkpointing "
          f"{'on' if result['gradient_checkpointing'] else 'off'}")
    print(f'parameters: {total / 1e6:.1f} M, trainable {trainable / 1e6:.1f} M')
    print('activations kept for backward, per image:')
    for name, value in sorted(act.items(), key=lambda kv: -kv[1]):
        print(f'  {name:<32s} {value / GIB:7.3f} GiB')
    print(f'  {"total":<32s} {act_gib:7.3f} GiB')
    print(f'per GPU, {batch} images per GPU ({args.gpus} GPUs for the sharded states):')
    for k, v in states.items():
        print(f'  {k:<30s} states {v:6.2f} GiB + activations {batch * act_gib:6.2f} GiB '
              f'= {result["estimate_gib_per_gpu"][k]:6.2f} GiB')
    print('(plus CUDA context, allocator caching and kernel workspaces: keep ~15% margin)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
