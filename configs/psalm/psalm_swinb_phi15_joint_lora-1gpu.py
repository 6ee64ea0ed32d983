# Fine-tuning on one GPU: LoRA adapters on the LLM (`peft`), everything else as in stage 2 (the
# projector, mask tokens, pixel decoder and mask decoder train; the backbone stays frozen), bf16
# autocast, LLM gradient checkpointing, 4 images per step and gradients accumulated over 4 steps
# (16 images per update). Starts from a converted PSALM checkpoint:
#   python tools/model_converters/psalm_hf_to_mmdet.py /path/to/PSALM work_dirs/psalm_converted
#   python tools/train.py configs/psalm/psalm_swinb_phi15_joint_lora-1gpu.py
# Merge the adapters into the LLM weights for export with HFCausalLM.merge_lora().
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(
    language_model=dict(
        gradient_checkpointing=True,
        lora=dict(r=16, lora_alpha=32, lora_dropout=0.05,
                  target_modules=['q_proj', 'k_proj', 'v_proj', 'dense', 'fc1', 'fc2'])))
load_from = 'work_dirs/psalm_converted/psalm.pth'

max_iters = 9000  # iterations = micro-batches of 4; 2,250 optimizer updates
warmup_iters = 270
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic',
                     accumulative_counts=4, optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, eta_min=0.0)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=1000))
