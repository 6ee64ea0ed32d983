"""PSALM's mask generator (paper section 3.2): Mask2Former's pixel decoder and masked-attention
transformer decoder, with LLM mask queries as content queries and condition embeddings as
classifiers (paper eq. 1)."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.models.layers import MLP, Mask2FormerTransformerDecoder, SinePositionalEncoding
from mmdet.registry import MODELS
from .condition_prompt import Condition


@MODELS.register_module()
class PSALMMaskGenerator(BaseModule):
    """Pixel decoder + transformer decoder fed by LLM queries, with condition scoring.

    Args:
        in_channels: channels of the backbone levels (strides 4, 8, 16, 32).
        strides: strides of those levels.
        feat_channels: decoder width (256).
        num_queries: number of queries (= mask tokens, 100).
        num_transformer_feat_level: levels the masked attention cycles through (3).
        pixel_decoder: config of the pixel decoder (``PSALMPixelDecoder`` or mmdet's).
        transformer_decoder: kwargs of mmdet's ``Mask2FormerTransformerDecoder``.
        positional_encoding: kwargs of the decoder's ``SinePositionalEncoding``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 strides: Sequence[int] = (4, 8, 16, 32),
                 feat_channels: int = 256,
                 num_queries: int = 100,
                 num_transformer_feat_level: int = 3,
                 pixel_decoder: dict = dict(type='PSALMPixelDecoder'),
                 transformer_decoder: dict = dict(),
                 positional_encoding: dict = dict(num_feats=128, normalize=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        pixel_decoder = copy.deepcopy(pixel_decoder)
        pixel_decoder.update(in_channels=list(in_channels), strides=list(strides),
                             feat_channels=feat_channels, out_channels=feat_channels)
        self.pixel_decoder = MODELS.build(pixel_decoder)
        self.transformer_decoder = Mask2FormerTransformerDecoder(**transformer_decoder)
        self.num_heads = self.transformer_decoder.layers[0].cross_attn.num_heads
        self.num_transformer_feat_level = num_transformer_feat_level
        self.decoder_positional_encoding = SinePositionalEncoding(**positional_encoding)
        # Positional queries; the content queries come from the LLM.
        self.query_embed = nn.Embedding(num_queries, feat_channels)
        self.level_embed = nn.Embedding(num_transformer_feat_level, feat_channels)
        self.mask_embed = MLP(feat_channels, feat_channels, feat_channels, 3)
        # Query-side MLPs of the three classifiers (reference CLASS_proj, SEG_proj, REGION_proj).
        self.score_mlps = nn.ModuleDict(dict(
            category=MLP(feat_channels, feat_channels, feat_channels, 2),
            sentence=MLP(feat_channels, feat_channels, feat_channels, 2),
            visual_prior=MLP(feat_channels, feat_channels, feat_channels, 2)))

    def init_weights(self) -> None:
        self.pixel_decoder.init_weights()
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)

    def _predict(self, queries: Tensor, mask_features: Tensor, conditions: List[Condition],
                 attn_size) -> Dict[str, object]:
        """Masks, scores and the next attention mask from decoder queries (B, Q, C)."""
        normed = self.transformer_decoder.post_norm(queries)
        mask_logits = torch.einsum('bqc,bchw->bqhw', self.mask_embed(normed), mask_features)
        scores = []
        for b, cond in enumerate(conditions):
            if cond.kind == 'none':
                scores.append(normed.new_zeros((normed.shape[1], 0)))
            else:
                # Plain dot products, no temperature or normalisation (reference).
                scores.append(self.score_mlps[cond.kind](normed[b]) @ cond.embeds.t())
        attn = F.interpolate(mask_logits, attn_size, mode='bilinear', align_corners=False)
        # (B, Q, h, w) -> (B * heads, Q, h * w); True = not attended.
        attn = attn.flatten(2).unsqueeze(1).repeat(1, self.num_heads, 1, 1).flatten(0, 1)
        attn = (attn.sigmoid() < 0.5).detach()
        return dict(mask_logits=mask_logits, scores=scores, attn_mask=attn)

    def forward(self, feats: Sequence[Tensor], queries: Tensor,
                conditions: List[Condition]) -> List[Dict[str, object]]:
        """Run the mask generator.

        Args:
            feats: backbone features, strides 4..32, each (B, C_i, H_i, W_i).
            queries: (B, Q, C) content queries (projected LLM mask tokens).
            conditions: B conditions; their embeddings are the classifiers.

        Returns:
            One dict per prediction set (before the first layer and after each layer; the last
            is the final prediction) with ``mask_logits`` (B, Q, H/4, W/4) and ``scores``
            (B tensors (Q, N_b): categories, 1 sentence or K regions).
        """
        bsz = queries.shape[0]
        mask_features, memories = self.pixel_decoder(feats)  # memories: low to high resolution
        keys, key_pos = [], []
        for i in range(self.num_transformer_feat_level):
            keys.append(memories[i].flatten(2).transpose(1, 2) + self.level_embed.weight[i])
            no_padding = memories[i].new_zeros((bsz, ) + memories[i].shape[-2:], dtype=torch.bool)
            key_pos.append(self.decoder_positional_encoding(no_padding).flatten(2).transpose(1, 2))
        query_pos = self.query_embed.weight.unsqueeze(0).expand(bsz, -1, -1)

        outputs = [self._predict(queries, mask_features, conditions, memories[0].shape[-2:])]
        for i, layer in enumerate(self.transformer_decoder.layers):
            level = i % self.num_transformer_feat_level
            attn_mask = outputs[-1]['attn_mask']
            # A query that would attend nothing attends everything instead.
            attn_mask = attn_mask & ~attn_mask.all(-1, keepdim=True)
            queries = layer(query=queries, key=keys[level], value=keys[level], query_pos=query_pos,
                            key_pos=key_pos[level], cross_attn_mask=attn_mask,
                            query_key_padding_mask=None, key_padding_mask=None)
            next_size = memories[(i + 1) % self.num_transformer_feat_level].shape[-2:]
            outputs.append(self._predict(queries, mask_features, conditions, next_size))
        for out in outputs:
            out.pop('attn_mask')
        return outputs
