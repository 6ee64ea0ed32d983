# Stage-2 joint training with PyTorch FSDP through MMEngine's FlexibleRunner (tools/train.py
# picks it for configs with a `strategy`), sharded like ZeRO-2 (SHARD_GRAD_OP: gradients and
# AdamW states sharded, parameters gathered for forward and backward), bf16 autocast through
# AmpOptimWrapper (fp32 master weights), LLM gradient checkpointing.
#   tools/dist_train.sh configs/psalm/psalm_swinb_phi15_joint_fsdp.py 16
# One FSDP unit (no auto-wrap) on purpose: joint batches give ranks different tasks, so a
# sub-module (the mask generator on a text-only batch) can be skipped by one rank and run by
# another, and a separately wrapped unit would then wait for a collective that never comes.
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(language_model=dict(gradient_checkpointing=True))
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        sharding_strategy='SHARD_GRAD_OP',
        use_orig_params=True),  # frozen backbone and trainable parts share the flat parameter
    state_dict_cfg='full')  # checkpoints gathered on rank 0, readable by tools/test.py
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
