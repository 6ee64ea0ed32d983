# DAVIS-2017 val, semi-supervised video object segmentation (DAVISDataset). Variables are named
# per dataset so that several dataset bases can be inherited together.
# Layout (DAVIS-2017 "TrainVal - Images and Annotations (480p)", no conversion needed; check it with
# tools/dataset_converters/prepare_davis.py):
#   data/DAVIS/ImageSets/2017/val.txt
#   data/DAVIS/JPEGImages/480p/<video>/*.jpg
#   data/DAVIS/Annotations/480p/<video>/*.png      indexed PNGs, palette index = object id
# One sample per frame from frame 1 on, video by video, frames in time order. Samples carry the
# first-frame masks as mask prompts; replacing them by the previous frame's predictions (the
# reference's memory, IoU check 0.4) is the job of psalm's VOSTestLoop, which also runs the frames
# of a video in order whatever the batch size and the number of processes.
# No evaluator here: psalm_swinb_phi15_test_davis-2017.py sets DAVISMetric (J&F as
# davis2017-evaluation, indexed PNGs for the official toolkit; docs/evaluation_protocols.md 1.4).
davis_root = 'data/DAVIS/'
davis_image_scale = (1024, 1024)  # long side to 1024; the model pads to 1024x1024

davis_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=davis_image_scale, keep_ratio=True),
    # Ground truth after Resize: masks stay at the original (480p) size.
    dict(type='LoadDAVISAnnotations'),
    # First-frame masks drawn at the original size, resized to the image (region_masks).
    dict(type='LoadVisualPrompts'),
    # gt_masks also in the metainfo, where mask metrics read them (as mmdet's RefSegMetric).
    dict(type='PackPSALMInputs',
         meta_keys=('gt_masks', 'video_name', 'frame_index', 'frame_name', 'num_frames',
                    'object_ids', 'object_present', 'first_frame', 'first_frame_seg_map_path',
                    'prev_frame_path')),
]
davis_val = dict(
    type='DAVISDataset',
    data_root=davis_root,
    ann_file='ImageSets/2017/val.txt',
    data_prefix=dict(img='JPEGImages/480p/', seg='Annotations/480p/'),
    test_mode=True,
    pipeline=davis_test_pipeline)
