# Stage-2 joint training: AdamW, no weight decay, linear warmup then cosine (reference values:
# lr 6e-5 for a global batch of 64 in the released code; the paper states 4e-5 and 56k iterations).
max_iters = 56000
warmup_iters = 1680
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=None,
    # Parameter groups per component (MMEngine's DefaultOptimWrapperConstructor), the knobs for
    # layer-wise learning rates. The reference trains every group at the same lr without weight
    # decay, so all lr multipliers are 1 (Mask2Former uses 0.1 for a backbone that trains:
    # freeze_backbone=False); norms, biases, embeddings and learned queries would get no decay
    # should weight_decay be raised.
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'backbone': dict(lr_mult=1.0),
            'projector': dict(lr_mult=1.0),
            'language_model.model.model.embed_tokens': dict(lr_mult=1.0, decay_mult=0.0),
            'language_model': dict(lr_mult=1.0),
            'prompt_encoder': dict(lr_mult=1.0, decay_mult=0.0),  # mask tokens
            'mask_generator.pixel_decoder': dict(lr_mult=1.0),
            'query_embed': dict(lr_mult=1.0, decay_mult=0.0),
            'level_embed': dict(lr_mult=1.0, decay_mult=0.0),
            'mask_generator': dict(lr_mult=1.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, eta_min=0.0)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)
