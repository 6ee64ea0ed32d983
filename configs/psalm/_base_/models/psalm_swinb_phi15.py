# PSALM with Swin-B (Mask2Former COCO-panoptic weights in the reference) and Phi-1.5, as released.
custom_imports = dict(imports=['psalm'], allow_failed_imports=False)

canvas_size = (1024, 1024)  # long side resized to 1024, padded to 1024x1024
num_queries = 100
decoder_dims = 256

model = dict(
    type='PSALM',
    data_preprocessor=dict(
        type='PSALMDataPreprocessor',
        canvas_size=canvas_size,
        pad_pixel=128.0,  # detectron2's pad value, before normalisation
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        window_size=12,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=False,
        init_cfg=None),
    freeze_backbone=True,
    llm_feature_index=3,  # res5 only feeds the LLM
    projector=dict(type='SwinConvProjector', in_channels=1024, hidden_channels=2048,
                   repeat_conv2=True),
    language_model=dict(
        type='HFCausalLM',
        # Phi-1.5's architecture with the released vocabulary (50295 tokens + [PAD] + [SEG]).
        # Load weights with `load_from` (a converted PSALM checkpoint), or replace this dict by a
        # local Phi-1.5 directory to start from its weights.
        model=dict(type='phi', vocab_size=50297, hidden_size=2048, intermediate_size=8192,
                   num_hidden_layers=24, num_attention_heads=32, hidden_act='gelu_new',
                   max_position_embeddings=2048, partial_rotary_factor=0.5, rope_theta=10000.0,
                   layer_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=50256,
                   eos_token_id=50256),
        tokenizer=dict(type='gpt2_bpe', codegen_whitespace=True),
        attn_implementation='sdpa',
        gradient_checkpointing=False,
        lm_head_bias=False),
    prompt_encoder=dict(type='ConditionPromptEncoder', out_dims=decoder_dims,
                        num_mask_tokens=num_queries),
    mask_generator=dict(
        type='PSALMMaskGenerator',
        in_channels=[128, 256, 512, 1024],
        strides=[4, 8, 16, 32],
        feat_channels=decoder_dims,
        num_queries=num_queries,
        num_transformer_feat_level=3,
        pixel_decoder=dict(
            type='PSALMPixelDecoder',
            lateral_act_cfg=dict(type='ReLU'),  # reference adapter_1; None = mmdet's
            fpn_conv_bias=True,
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU'),
            encoder=dict(
                num_layers=6,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=decoder_dims, num_heads=8, num_levels=3,
                                       num_points=4, dropout=0.0, batch_first=True),
                    ffn_cfg=dict(embed_dims=decoder_dims, feedforward_channels=1024, num_fcs=2,
                                 ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True)))),
            positional_encoding=dict(num_feats=decoder_dims // 2, normalize=True)),
        positional_encoding=dict(num_feats=decoder_dims // 2, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=9,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=decoder_dims, num_heads=8, dropout=0.0,
                                   batch_first=True),
                cross_attn_cfg=dict(embed_dims=decoder_dims, num_heads=8, dropout=0.0,
                                    batch_first=True),
                ffn_cfg=dict(embed_dims=decoder_dims, feedforward_channels=2048, num_fcs=2,
                             ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True))),
            init_cfg=None)),
    criterion=dict(type='PSALMCriterion', num_points=12544, oversample_ratio=3.0,
                   importance_sample_ratio=0.75, background_weight=0.1),
    test_cfg=dict(rescale=True))
