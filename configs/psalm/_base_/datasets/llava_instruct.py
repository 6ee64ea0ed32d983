# LLaVA-1.5 instruction data (conversation task). Variables named per dataset (see coco_panoptic.py).
llava_root = 'data/llava/'
llava_image_scale = (1024, 1024)
llava_pipeline = [
    dict(type='LoadOptionalImage'),  # text-only samples get a blank stand-in image
    dict(type='Resize', scale=llava_image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
llava_instruct_train = dict(
    type='LLaVAInstructDataset',
    data_root=llava_root,
    ann_file='llava_v1_5_mix665k.json',
    data_prefix=dict(img=''),  # image paths in the json are relative to data_root ('coco/train2017/...')
    drop_text_only=False,
    pipeline=llava_pipeline)
