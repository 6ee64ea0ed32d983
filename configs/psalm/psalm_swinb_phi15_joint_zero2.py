# Stage-2 joint training with DeepSpeed ZeRO stage 2 (the reference's engine) through MMEngine's
# FlexibleRunner (tools/train.py picks it for configs with a `strategy`): AdamW states and
# gradients are sharded over the GPUs, fp32 master weights, bf16 autocast (DeepSpeed's
# `torch_autocast`, so the pixel decoder's deformable attention can stay fp32), gradient
# checkpointing of the LLM. Needs `pip install deepspeed` (not in the test requirements).
#   tools/dist_train.sh configs/psalm/psalm_swinb_phi15_joint_zero2.py 16
# V100 (no bf16), as the reference's train.sh (DeepSpeed fp16, dynamic loss scale 2^16):
#   --cfg-options strategy.config.torch_autocast.enabled=False strategy.fp16.enabled=True \
#                 "strategy.inputs_to_half=[inputs]"
#   (the whole model then runs in fp16, deformable attention included: mmcv's kernel has fp16)
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(language_model=dict(gradient_checkpointing=True))
strategy = dict(
    type='DeepSpeedStrategy',
    config=dict(torch_autocast=dict(enabled=True, dtype='bfloat16')),
    fp16=dict(enabled=False, loss_scale=0, initial_scale_power=16, loss_scale_window=1000,
              hysteresis=2, min_loss_scale=1),
    inputs_to_half=None,
    zero_optimization=dict(
        stage=2,
        overlap_comm=True,
        contiguous_gradients=True,
        allgather_partitions=True,
        reduce_scatter=True,
        allgather_bucket_size=int(2e8),
        reduce_bucket_size=int(2e8)),
    gradient_clipping=0.0,  # the reference does not clip
    train_micro_batch_size_per_gpu={{_base_.train_dataloader.batch_size}},
    gradient_accumulation_steps=1)
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
