# Stage 1, vision-language alignment (not released by the reference; the paper's appendix Tab. 15
# and LLaVA v1.0.1's recipe): only the projector (Swin res5 -> LLM tokens) trains, on image
# captions; the Swin-B backbone and Phi-1.5 are frozen. AdamW lr 2e-3, batch 128 (16 per GPU on
# 8 GPUs), 4,650 iterations (one epoch of LLaVA-CC3M-Pretrain-595K), warmup 140, cosine.
#   tools/dist_train.sh configs/psalm/psalm_swinb_phi15_stage1_llava-cc3m.py 8
# Data: LLaVA-CC3M-Pretrain-595K (chat.json + images/) in data/llava_cc3m_pretrain/; LLaVA-1.5's
# blip_laion_cc_sbu_558k.json has the same format. Start from the backbone of Mask2Former
# (tools/model_converters/mask2former_d2_to_mmdet.py -> load_from) and Phi-1.5's weights
# (model.language_model.model='/path/to/phi-1_5'); stage 2 then starts from this checkpoint
# (load_from in the joint config).
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(freeze_backbone=True, language_model=dict(frozen=True))
# Nothing but the projector runs a backward pass of its own: caption batches are text-output
# only, so the mask generator and mask tokens get no gradient either.
load_from = None

stage1_pipeline = [
    dict(type='LoadOptionalImage'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='LLaVAInstructDataset',
        data_root='data/llava_cc3m_pretrain/',
        ann_file='chat.json',
        data_prefix=dict(img='images/'),
        drop_text_only=True,
        pipeline=stage1_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None

max_iters = 4650
warmup_iters = 140
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic',
                     optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, eta_min=0.0)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, _delete_=True)
default_hooks = dict(checkpoint=dict(interval=1000))
auto_scale_lr = dict(base_batch_size=128)
