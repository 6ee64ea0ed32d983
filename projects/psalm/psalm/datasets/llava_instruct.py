"""LLaVA-format conversation data: instruction following (LLaVA-1.5 mix) and stage-1 captions."""
import os.path as osp
from typing import List

from mmengine.dataset import BaseDataset
from mmengine.fileio import load

from mmdet.registry import DATASETS


@DATASETS.register_module()
class LLaVAInstructDataset(BaseDataset):
    """Conversations in LLaVA's json format, for the text-output task.

    Reads a list of ``{'id', 'image' (optional), 'conversations': [{'from': 'human'|'gpt',
    'value': str}, ...]}`` entries: ``llava_v1_5_mix665k.json`` (stage 2, instruction
    following) or ``blip_laion_cc_sbu_558k.json`` (stage 1, image-caption alignment). Entries
    without ``image`` are text-only (``img_path`` None; load them with ``LoadOptionalImage``).

    Each data info: ``img_path``, ``img_id``, ``task='conversation'``, ``conversation``.

    Args:
        drop_text_only: skip entries without an image (the reference keeps only those with one).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments; ``data_prefix=dict(img=...)``
            is prepended to the image paths.
    """

    def __init__(self, *args, drop_text_only: bool = False, **kwargs) -> None:
        self.drop_text_only = drop_text_only
        kwargs.setdefault('data_prefix', dict(img=''))
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        entries = load(self.ann_file)
        if not isinstance(entries, list):
            raise ValueError(f'{self.ann_file}: expected a list of conversations, got '
                             f'{type(entries).__name__}')
        data_list = []
        for i, entry in enumerate(entries):
            turns = entry.get('conversations') if isinstance(entry, dict) else None
            if not turns or not all(isinstance(t, dict) and t.get('from') in ('human', 'gpt')
                                    and isinstance(t.get('value'), str) for t in turns):
                raise ValueError(f'{self.ann_file}: entry {i} (id {entry.get("id") if isinstance(entry, dict) else None}) '
                                 "needs 'conversations' of {'from': 'human'|'gpt', 'value': str}")
            image = entry.get('image')
            if image is None and self.drop_text_only:
                continue
            data_list.append(dict(
                img_path=osp.join(self.data_prefix.get('img', ''), image) if image else None,
                img_id=entry.get('id', i), task='conversation',
                conversation=[dict(turn) for turn in turns]))
        return data_list
