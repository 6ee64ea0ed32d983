"""PSALM's input schema (paper sections 3.1 and 3.3): the LLM input sequence and the conditions.

Each sample becomes one LLM sequence, in the reference order::

    [INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{instruction}{condition prompt} [/INST] {assistant} <|endoftext|>
                                   ^ <image>: image tokens          ^ <cls>/<refer>/<region>   ^ <seg>: mask tokens

and, after the LLM, this module reads back

- the **mask queries**: hidden states at the mask tokens, projected to the decoder width;
- the **condition embeddings**: category (mean over a category's name tokens and its ``[SEG]``),
  sentence (mean over the expression tokens and ``[SEG]``) or visual prior (one pooled region token
  per region), each projected to the decoder width.

What a sample asks for is data in its ``DetDataSample`` metainfo:

============== ======================================================================================
``task``       a key of ``task_prompts`` (``panoptic``, ``instance``, ``semantic``, ``referring``,
               ``gres``, ``interactive``, ``vos``, ``conversation``); it selects the instruction and
               the condition type (``category``, ``sentence``, ``visual_prior`` or ``none``).
``categories`` category condition: the candidate category names, without ``background``
               (appended here as the no-object category).
``text``       sentence condition: the referring expression (str).
``region_masks`` visual-prior condition: (K, H, W) bool masks on the resized image (``img_shape``),
               one per region, already rasterised (see :mod:`psalm.structures.visual_prompt`).
``conversation`` text-only samples: LLaVA-style turns ``[{'from': 'human'|'gpt', 'value': str}]``;
               ``<image>`` in a human turn places the image tokens. For generation, the last
               turn is a human turn.
============== ======================================================================================
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

CONDITION_TYPES = ('category', 'sentence', 'visual_prior', 'none')

# The reference's prompts (`llava_phi` template, LLAMA_2 separator style).
DEFAULT_SYSTEM = ('You are a helpful language and vision assistant. You are able to understand the '
                  'visual content that the user provides, and assist the user with a variety of '
                  'tasks using natural language.')
_GENERIC = dict(condition='category',
                user='This is an image <image>, Please do Panoptic Segmentation.',
                assistant='\nSure, the segmentation result is <seg>')
_REFERRING = dict(condition='sentence',
                  user='This is an image <image>, Please doing Referring Segmentation according '
                  'to the following instruction:\n<refer>',
                  assistant='\nSure, the segmentation result is <seg>')
_INTERACTIVE = dict(condition='visual_prior',
                    user='This is an image <image>, Please segment by given regions',
                    assistant='\n[SEG]<seg>')
DEFAULT_TASK_PROMPTS = dict(
    # The reference uses the panoptic wording for instance and semantic evaluation too.
    panoptic=_GENERIC, instance=_GENERIC, semantic=_GENERIC,
    referring=_REFERRING, gres=_REFERRING,
    interactive=_INTERACTIVE, vos=_INTERACTIVE,
    conversation=dict(condition='none'))
# (prefix, item placeholder, separator, suffix) of the condition prompt appended to the instruction.
DEFAULT_CONDITION_PROMPTS = dict(
    category=('\nThis is all the candidate categories: ', '<cls>', ', ', '.\n'),
    visual_prior=('\nThis is all regions:  ', '<region>', ', ', '.\n'))

_PLACEHOLDER = re.compile(r'(<image>|<cls>|<refer>|<region>|<seg>)')
_IMAGE_PLACEHOLDER = re.compile(r'(<image>)')
# Kinds of positions in the assembled sequence.
_TEXT, _IMAGE, _MASK, _REGION = 0, 1, 2, 3


@dataclass
class Condition:
    """The condition of one sample after the LLM.

    Attributes:
        kind: one of ``CONDITION_TYPES``.
        embeds: (N, C) embeddings: N categories (``background`` last), 1 sentence or K regions;
            (0, C) for ``none``.
    """
    kind: str
    embeds: Tensor


@dataclass
class PromptBatch:
    """The assembled LLM inputs of a batch and where to read the outputs.

    Attributes:
        inputs_embeds: (B, L, D) right-padded with zeros.
        attention_mask: (B, L), 1 on real positions.
        labels: (B, L) next-token targets for conversation samples (-100 elsewhere), or None.
        mask_positions: (B, Q) positions of the mask tokens (0 where a sample has none).
        has_mask_tokens: (B,) bool, False for conversation samples.
        pooling: per sample, an (N, L) row-normalised matrix averaging the condition positions.
        kinds: per sample, the condition type.
    """
    inputs_embeds: Tensor
    attention_mask: Tensor
    labels: Optional[Tensor]
    mask_positions: Tensor
    has_mask_tokens: Tensor
    pooling: List[Tensor]
    kinds: List[str]


@dataclass
class _Sequence:
    """One sample's sequence before embedding."""
    ids: List[int] = field(default_factory=list)
    kinds: List[int] = field(default_factory=list)
    source: List[int] = field(default_factory=list)  # index into image tokens / regions
    labels: List[int] = field(default_factory=list)
    groups: List[List[int]] = field(default_factory=list)  # condition positions, per item
    mask_positions: List[int] = field(default_factory=list)

    def add(self, ids: Sequence[int], kind: int = _TEXT, source: Sequence[int] = None,
            supervised: bool = False) -> List[int]:
        start = len(self.ids)
        self.ids.extend(ids)
        self.kinds.extend([kind] * len(ids))
        self.source.extend(source if source is not None else [-1] * len(ids))
        self.labels.extend(ids if supervised else [-100] * len(ids))
        return list(range(start, len(self.ids)))


def sample_region_points(mask: Tensor, num_points: int,
                         generator: Optional[torch.Generator] = None) -> Tensor:
    """(num_points, 2) random (y, x) pixel coordinates inside a (H, W) bool mask.

    Without replacement when the mask has enough pixels, with replacement otherwise (reference).
    """
    coords = mask.nonzero()
    n = coords.shape[0]
    if n >= num_points:
        idx = torch.randperm(n, generator=generator, device='cpu')[:num_points]
    else:
        idx = torch.randint(n, (num_points,), generator=generator, device='cpu')
    return coords[idx.to(coords.device)]


def region_pooling(image_tokens: Tensor, grid_hw: Tuple[int, int], region_masks: Tensor,
                   canvas_hw: Tuple[int, int], num_points: int = 256,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Visual-prior features: average of bilinear samples of the projected image tokens.

    Args:
        image_tokens: (h*w, D) projected image tokens of one image.
        grid_hw: (h, w) of the token grid.
        region_masks: (K, H', W') bool masks in canvas pixels (top-left aligned, H' <= H).
        canvas_hw: (H, W) of the padded input canvas that the token grid covers.
        num_points: points sampled per region (256 in the reference).

    Returns:
        (K, D) one token per region. A region with an empty mask gets the mean image token.
    """
    h, w = grid_hw
    grid = image_tokens.transpose(0, 1).reshape(1, -1, h, w)
    feats = []
    norm = region_masks.new_tensor(canvas_hw, dtype=torch.float32)
    for mask in region_masks:
        if not mask.any():
            feats.append(image_tokens.mean(0))
            continue
        yx = sample_region_points(mask, num_points, generator).float()
        xy = (yx / norm).flip(-1) * 2 - 1  # grid_sample wants (x, y) in [-1, 1]
        sampled = F.grid_sample(grid, xy.to(grid.dtype).view(1, 1, -1, 2), mode='bilinear',
                                align_corners=True)  # (1, D, 1, P)
        feats.append(sampled[0, :, 0].mean(-1))
    if not feats:
        return image_tokens.new_zeros((0, image_tokens.shape[-1]))
    return torch.stack(feats)


@MODELS.register_module()
class ConditionPromptEncoder(BaseModule):
    """Builds the LLM input sequences and reads mask queries and condition embeddings back.

    Args:
        llm_dims: hidden size of the LLM.
        out_dims: width of the mask decoder (256).
        num_mask_tokens: number of mask tokens / decoder queries (100).
        system_prompt: the system message.
        task_prompts: task -> ``dict(condition=..., user=..., assistant=...)``; ``user`` holds
            ``<image>`` (and ``<refer>`` for sentences), ``assistant`` holds ``<seg>``.
        condition_prompts: condition type -> (prefix, item, separator, suffix) appended to the
            user text for categories and regions.
        background_name: the no-object category appended to every category list.
        shuffle_categories: shuffle the order in which categories appear in the prompt during
            training (reference behaviour); embeddings are returned in the canonical order.
        region_num_points: points sampled per visual-prior region.
        sentence_prefix: prepended to the expression before tokenisation (the reference
            tokenises ``" s1. s2."``).
        eval_seed: in eval mode, region points are drawn from a generator seeded with this for
            every sample, so a prediction does not depend on the batch it is in, the process or
            what ran before (None: torch's global generator, as in training).
    """

    def __init__(self,
                 llm_dims: int,
                 out_dims: int = 256,
                 num_mask_tokens: int = 100,
                 system_prompt: str = DEFAULT_SYSTEM,
                 task_prompts: Optional[Dict[str, dict]] = None,
                 condition_prompts: Optional[Dict[str, Sequence[str]]] = None,
                 background_name: str = 'background',
                 shuffle_categories: bool = True,
                 region_num_points: int = 256,
                 sentence_prefix: str = ' ',
                 eval_seed: Optional[int] = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.system_prompt = system_prompt
        self.task_prompts = dict(DEFAULT_TASK_PROMPTS)
        self.task_prompts.update(task_prompts or {})
        for task, prompt in self.task_prompts.items():
            if prompt.get('condition') not in CONDITION_TYPES:
                raise ValueError(f'task_prompts[{task!r}].condition must be one of {CONDITION_TYPES}')
        self.condition_prompts = dict(DEFAULT_CONDITION_PROMPTS)
        self.condition_prompts.update(condition_prompts or {})
        self.background_name = background_name
        self.shuffle_categories = shuffle_categories
        self.region_num_points = region_num_points
        self.sentence_prefix = sentence_prefix
        self.eval_seed = eval_seed
        self.num_mask_tokens = num_mask_tokens

        # Learnable LLM inputs, zero-initialised as in the reference: told apart only by position.
        self.mask_tokens = nn.Parameter(torch.zeros(num_mask_tokens, llm_dims))
        self.mask_query_proj = nn.Linear(llm_dims, out_dims)
        self.category_proj = nn.Linear(llm_dims, out_dims)
        self.sentence_proj = nn.Linear(llm_dims, out_dims)
        self.region_proj = nn.Linear(llm_dims, out_dims)
        self._token_cache: Dict[str, List[int]] = {}

    # ------------------------------------------------------------------ helpers
    def condition_type(self, data_sample: DetDataSample) -> str:
        task = data_sample.metainfo.get('task')
        if task not in self.task_prompts:
            raise KeyError(f'data sample has task={task!r}; known tasks: {sorted(self.task_prompts)}')
        return self.task_prompts[task]['condition']

    def category_names(self, data_sample: DetDataSample) -> List[str]:
        names = list(data_sample.metainfo.get('categories') or [])
        if not names:
            raise ValueError('a category-conditioned sample needs a non-empty `categories` metainfo')
        if names[-1] != self.background_name:
            names.append(self.background_name)
        return names

    def _tokens(self, llm, text: str) -> List[int]:
        ids = self._token_cache.get(text)
        if ids is None:
            ids = llm.tokenize(text)
            if len(self._token_cache) < 100000:
                self._token_cache[text] = ids
        return ids

    # --------------------------------------------------------------- assembly
    def _add_template(self, seq: _Sequence, llm, text: str, num_image_tokens: int,
                      categories: Sequence[str] = (), category_order: Sequence[int] = (),
                      sentence: str = '', placeholders: re.Pattern = _PLACEHOLDER) -> None:
        """Tokenise ``text`` piece by piece, expanding the placeholders."""
        cls_slot = region_slot = 0
        for piece in placeholders.split(text):
            if not piece:
                continue
            if piece == '<image>':
                seq.add([llm.pad_token_id] * num_image_tokens, _IMAGE, range(num_image_tokens))
            elif piece == '<cls>':
                c = category_order[cls_slot]
                cls_slot += 1
                pos = seq.add(self._tokens(llm, categories[c]) + [llm.seg_token_id])
                seq.groups[c] = pos
            elif piece == '<refer>':
                text_ids = self._tokens(llm, self.sentence_prefix + sentence.strip())
                seq.groups.append(seq.add(text_ids + [llm.seg_token_id]))
            elif piece == '<region>':
                seq.groups.append(seq.add([llm.pad_token_id], _REGION, [region_slot]))
                region_slot += 1
            elif piece == '<seg>':
                seq.mask_positions = seq.add([llm.pad_token_id] * self.num_mask_tokens, _MASK,
                                             range(self.num_mask_tokens))
            else:
                seq.add(self._tokens(llm, piece))

    def _items_prompt(self, kind: str, count: int) -> str:
        prefix, item, sep, suffix = self.condition_prompts[kind]
        return prefix + sep.join([item] * count) + suffix

    def _segmentation_sequence(self, llm, sample: DetDataSample, kind: str,
                               num_image_tokens: int) -> _Sequence:
        prompt = self.task_prompts[sample.metainfo['task']]
        user, seq = prompt['user'], _Sequence()
        categories: List[str] = []
        order: Sequence[int] = ()
        num_regions = 0
        if kind == 'category':
            categories = self.category_names(sample)
            order = (np.random.permutation(len(categories)) if self.training
                     and self.shuffle_categories else range(len(categories)))
            seq.groups = [[] for _ in categories]
            user = user + self._items_prompt('category', len(categories))
        elif kind == 'sentence':
            if not str(sample.metainfo.get('text', '')).strip():
                raise ValueError('a sentence-conditioned sample needs a non-empty `text` metainfo')
        elif kind == 'visual_prior':
            num_regions = len(sample.metainfo.get('region_masks', ()))
            if num_regions == 0:
                raise ValueError('a visual-prior sample needs at least one region in `region_masks`')
            user = user + self._items_prompt('visual_prior', num_regions)
        text = (f'[INST] <<SYS>>\n{self.system_prompt}\n<</SYS>>\n\n{user} [/INST] '
                f'{prompt["assistant"]} <|endoftext|>')
        self._add_template(seq, llm, text, num_image_tokens, categories, order,
                           sample.metainfo.get('text', ''))
        if len(seq.mask_positions) != self.num_mask_tokens:
            raise ValueError(f'the assistant prompt of task {sample.metainfo["task"]!r} must hold <seg>')
        return seq

    def _conversation_sequence(self, llm, sample: DetDataSample, num_image_tokens: int,
                               for_generation: bool) -> _Sequence:
        turns = sample.metainfo.get('conversation')
        if not turns:
            raise ValueError('a conversation sample needs a non-empty `conversation` metainfo')
        seq = _Sequence()
        first = True
        for i, turn in enumerate(turns):
            role, value = turn['from'], str(turn['value'])
            if role == 'human':
                head = (f'[INST] <<SYS>>\n{self.system_prompt}\n<</SYS>>\n\n' if first
                        else '[INST] ')
                # Only <image> is a placeholder in free text.
                self._add_template(seq, llm, f'{head}{value.strip()} [/INST]', num_image_tokens,
                                   placeholders=_IMAGE_PLACEHOLDER)
                first = False
            elif role == 'gpt':
                seq.add(self._tokens(llm, f' {value.strip()} '), supervised=True)
                seq.add([llm.eos_token_id], supervised=True)
            else:
                raise ValueError(f'conversation turn {i} has from={role!r}; expected human or gpt')
        if for_generation and turns[-1]['from'] != 'human':
            raise ValueError('for generation the conversation must end with a human turn')
        return seq

    def assemble(self, llm, data_samples: Sequence[DetDataSample], image_tokens: Tensor,
                 grid_hw: Tuple[int, int], canvas_hw: Tuple[int, int],
                 for_generation: bool = False) -> PromptBatch:
        """Build the LLM inputs of a batch.

        Args:
            llm: the :class:`~psalm.models.HFCausalLM` (tokenizer and input embeddings).
            data_samples: B samples (see the module docstring for the metainfo they carry).
            image_tokens: (B, N, D) projected image tokens.
            grid_hw: (h, w) with h * w = N.
            canvas_hw: (H, W) of the padded input images.
            for_generation: conversation samples end after the last ``[/INST]``.
        """
        seqs, kinds, regions = [], [], []
        num_image_tokens = image_tokens.shape[1]
        for b, sample in enumerate(data_samples):
            kind = self.condition_type(sample)
            if kind == 'none':
                seq = self._conversation_sequence(llm, sample, num_image_tokens, for_generation)
            else:
                seq = self._segmentation_sequence(llm, sample, kind, num_image_tokens)
            region_feats = None
            if kind == 'visual_prior':
                masks = torch.as_tensor(np.asarray(sample.metainfo['region_masks']),
                                        device=image_tokens.device).bool()
                generator = None if self.training or self.eval_seed is None else \
                    torch.Generator().manual_seed(self.eval_seed)
                region_feats = region_pooling(image_tokens[b], grid_hw, masks, canvas_hw,
                                              self.region_num_points, generator)
            seqs.append(seq)
            kinds.append(kind)
            regions.append(region_feats)
        # Generation continues after the last position, so pad on the left there.
        return self._embed(llm, seqs, kinds, regions, image_tokens, left_pad=for_generation)

    def _embed(self, llm, seqs: List[_Sequence], kinds: List[str],
               regions: List[Optional[Tensor]], image_tokens: Tensor,
               left_pad: bool = False) -> PromptBatch:
        device = image_tokens.device
        bsz, max_len = len(seqs), max(len(s.ids) for s in seqs)
        ids = torch.full((bsz, max_len), llm.pad_token_id, dtype=torch.long)
        kind = torch.full((bsz, max_len), -1, dtype=torch.long)
        source = torch.full((bsz, max_len), -1, dtype=torch.long)
        labels = torch.full((bsz, max_len), -100, dtype=torch.long)
        attention = torch.zeros((bsz, max_len), dtype=torch.long)
        mask_positions = torch.zeros((bsz, self.num_mask_tokens), dtype=torch.long)
        offsets = []
        for b, s in enumerate(seqs):
            n = len(s.ids)
            off = max_len - n if left_pad else 0
            offsets.append(off)
            ids[b, off:off + n] = torch.tensor(s.ids)
            kind[b, off:off + n] = torch.tensor(s.kinds)
            source[b, off:off + n] = torch.tensor(s.source)
            labels[b, off:off + n] = torch.tensor(s.labels)
            attention[b, off:off + n] = 1
            if s.mask_positions:
                mask_positions[b] = torch.tensor(s.mask_positions) + off
        ids, kind, source = ids.to(device), kind.to(device), source.to(device)

        embeds = llm.embed_tokens(ids)
        # Right padding with zero embeddings, as in the reference.
        embeds = embeds * (kind >= 0).unsqueeze(-1).to(embeds.dtype)
        b_idx, p_idx = (kind == _IMAGE).nonzero(as_tuple=True)
        if len(b_idx):
            embeds = embeds.index_put((b_idx, p_idx),
                                      image_tokens[b_idx, source[b_idx, p_idx]].to(embeds.dtype))
        b_idx, p_idx = (kind == _MASK).nonzero(as_tuple=True)
        if len(b_idx):
            embeds = embeds.index_put((b_idx, p_idx),
                                      self.mask_tokens[source[b_idx, p_idx]].to(embeds.dtype))
        for b, feats in enumerate(regions):
            if feats is None or not len(feats):
                continue
            p_idx = (kind[b] == _REGION).nonzero(as_tuple=True)[0]
            b_idx = torch.full_like(p_idx, b)
            embeds = embeds.index_put((b_idx, p_idx), feats[source[b, p_idx]].to(embeds.dtype))

        pooling = []
        for s, off in zip(seqs, offsets):
            pool = torch.zeros((len(s.groups), max_len), dtype=embeds.dtype)
            for row, pos in enumerate(s.groups):
                pool[row, [p + off for p in pos]] = 1.0 / len(pos)
            pooling.append(pool.to(device))
        has_labels = bool((labels != -100).any())
        return PromptBatch(
            inputs_embeds=embeds, attention_mask=attention.to(device),
            labels=labels.to(device) if has_labels else None,
            mask_positions=mask_positions.to(device),
            has_mask_tokens=torch.tensor([bool(s.mask_positions) for s in seqs], device=device),
            pooling=pooling, kinds=kinds)

    # ------------------------------------------------------------- extraction
    def condition_proj(self, kind: str) -> nn.Linear:
        """The projection of a condition kind's pooled LLM state (``category``, ``sentence``
        or ``visual_prior``) to the decoder width."""
        projections = dict(category=self.category_proj, sentence=self.sentence_proj,
                           visual_prior=self.region_proj)
        if kind not in projections:
            raise ValueError(f'no condition projection for kind {kind!r}: one of '
                             f'{sorted(projections)}')
        return projections[kind]

    def extract(self, hidden_states: Tensor,
                prompts: PromptBatch) -> Tuple[Tensor, List[Condition]]:
        """Read the mask queries and the conditions from the LLM output.

        Args:
            hidden_states: (B, L, D) last hidden states of the LLM.
            prompts: the batch built by :meth:`assemble`.

        Returns:
            queries: (B, Q, out_dims) content queries of the mask decoder (zeros for samples
            without mask tokens).
            conditions: B :class:`Condition`.
        """
        bsz = hidden_states.shape[0]
        idx = prompts.mask_positions.unsqueeze(-1).expand(-1, -1, hidden_states.shape[-1])
        queries = self.mask_query_proj(hidden_states.gather(1, idx))
        queries = queries * prompts.has_mask_tokens.view(bsz, 1, 1).to(queries.dtype)
        conditions = []
        for b, kind in enumerate(prompts.kinds):
            if kind == 'none':
                conditions.append(Condition(kind, queries.new_zeros((0, queries.shape[-1]))))
                continue
            pooled = prompts.pooling[b].to(hidden_states.dtype) @ hidden_states[b]
            conditions.append(Condition(kind, self.condition_proj(kind)(pooled)))
        return queries, conditions
