# Stage-2 joint training, DDP with bf16 mixed precision (MMEngine's AmpOptimWrapper: fp32 master
# weights and AdamW states, bf16 autocast; the pixel decoder's deformable attention stays fp32)
# and gradient checkpointing of the LLM's decoder layers. For GPUs with bf16 (A100, H100, ...);
# on V100 use the plain joint config with --amp (fp16, dynamic loss scale).
#   tools/dist_train.sh configs/psalm/psalm_swinb_phi15_joint_bf16.py 16   (4 images per GPU)
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(language_model=dict(gradient_checkpointing=True))
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
