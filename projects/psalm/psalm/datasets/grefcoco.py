"""gRefCOCO (generalised referring expressions: one, several or no target) for PSALM's ``gres``
task."""
from typing import List

from mmdet.registry import DATASETS
from .refcoco import PSALMRefCocoDataset, _field


@DATASETS.register_module()
class GRefCocoDataset(PSALMRefCocoDataset):
    """gRefCOCO from ``grefs(unc).json`` (``split_file``) and ``instances.json`` (``ann_file``).

    A ref's ``ann_id`` is a list: several ids for a multi-target expression, ``[-1]`` for a
    no-target one. A ref whose ids contain -1, or an empty list, gives **zero** instances and
    ``no_target=True`` (every sample carries ``no_target``; pack it with
    ``PackPSALMInputs(meta_keys=('no_target', ...))``). Multi-target samples keep one instance per
    annotation, crowd ones included (as the reference; ReLA drops crowd annotations).

    The refs file is parsed by content, not by name: the public ``grefs(unc).json`` is JSON,
    but the reference reads it with ``pickle.load`` (so its authors' copy may be a pickle under
    that name); a pickle goes through the same restricted unpickler as RefCOCO's.

    Protocols: ``per_sentence`` (default; gRefCOCO is evaluated per sentence by ReLA and GSVA)
    or ``per_ref`` (the reference's ``eval_grefcoco.py`` joins a ref's sentences, as for
    RefCOCO). Texts are formatted as in :class:`PSALMRefCocoDataset`.

    Args:
        ann_file: gRefCOCO's ``instances.json``.
        split_file: ``grefs(unc).json`` (or a pickle of the same list).
        split: ``'train'``, ``'val'``, ``'testA'`` or ``'testB'``.
        protocol: ``'per_sentence'`` or ``'per_ref'``.
        **kwargs: :class:`PSALMRefCocoDataset` arguments.
    """

    TASK = 'gres'
    REFS_FORMAT = 'auto'

    def __init__(self, ann_file: str, split_file: str, split: str = 'train',
                 protocol: str = 'per_sentence', **kwargs) -> None:
        super().__init__(ann_file=ann_file, split_file=split_file, split=split,
                         protocol=protocol, **kwargs)

    def _target_ids(self, ref: dict, what: str) -> List[int]:
        ann_id = _field(ref, 'ann_id', self.split_file, what)
        ids = ann_id if isinstance(ann_id, list) else [ann_id]
        if not all(isinstance(i, int) for i in ids):
            raise ValueError(f'{self.split_file}: {what} field "ann_id" must be an id or a list '
                             f'of ids, got {ann_id!r}')
        # The reference's rule: any -1 means "no target".
        return [] if -1 in ids else ids

    def _extra_info(self, ref: dict, anns: List[dict]) -> dict:
        return dict(no_target=not anns)
