"""RefCOCO / RefCOCO+ / RefCOCOg for referring segmentation, read from the refer toolkit's files.

Also holds the loader of the toolkit's refs files (``refs(unc).p`` etc.), shared with
:mod:`psalm.datasets.grefcoco` and ``tools/dataset_converters/refer_pickle_to_json.py``.
"""
import io
import json
import os.path as osp
import pickle
import random
from typing import Dict, List, Optional, Sequence

import mmengine
from mmengine.fileio import get, get_file_backend

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS

PROTOCOLS = ('per_ref', 'per_sentence')
JSON_SUFFIXES = ('.json', )
PICKLE_SUFFIXES = ('.p', '.pkl', '.pickle')

# Builtin value types a refs pickle may name (sets and frozensets are pickled as a call to their
# type). Anything else, e.g. builtins.eval or os.system, is refused.
_SAFE_BUILTINS = frozenset({
    'dict', 'list', 'tuple', 'set', 'frozenset', 'str', 'bytes', 'bytearray', 'int', 'float',
    'complex', 'bool'
})


class _BuiltinsOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves no global except builtin value types.

    ``pickle.load`` imports and calls whatever the file names (GLOBAL + REDUCE opcodes), so a
    tampered refs file would run code when the dataset is built, in every worker and rank. The
    refs are only lists and dicts of str/int (they need no global at all), and they are usually
    fetched from third-party mirrors since the original UNC server went offline: refusing every
    other global turns a malicious file into an error instead of code execution.
    """

    def find_class(self, module: str, name: str):
        # Python 2 pickles (the public release) name the builtins module ``__builtin__``.
        if module in ('builtins', '__builtin__') and name in _SAFE_BUILTINS:
            return super().find_class('builtins', name)
        raise pickle.UnpicklingError(
            f'refusing to load global {module}.{name}: a refs file holds only builtin values')


def _detect_format(path: str, content: bytes, file_format: Optional[str]) -> str:
    if file_format in ('json', 'pkl'):
        return file_format
    if file_format == 'auto':
        # JSON text starts with '[' or '{'; no pickle opcode is either byte.
        head = content.lstrip(b'\xef\xbb\xbf \t\r\n')[:1]
        return 'json' if head in (b'[', b'{') else 'pkl'
    if file_format is not None:
        raise ValueError(f'file_format must be None, "json", "pkl" or "auto", got {file_format!r}')
    suffix = osp.splitext(path)[1].lower()
    if suffix in JSON_SUFFIXES:
        return 'json'
    if suffix in PICKLE_SUFFIXES:
        return 'pkl'
    raise ValueError(f'{path}: cannot tell the refs format from the extension {suffix!r}; expected '
                     f'one of {JSON_SUFFIXES + PICKLE_SUFFIXES}')


def load_refs(path: str, file_format: Optional[str] = None,
              backend_args: Optional[dict] = None) -> List[dict]:
    """Load a refer-toolkit refs list from JSON or from a pickle, without running code.

    Args:
        path: the refs file (``refs(unc).p``, ``grefs(unc).json``, a JSON export, ...).
        file_format: ``'json'``, ``'pkl'``, ``'auto'`` (from the content) or None (from the
            extension: ``.json``; ``.p``, ``.pkl``, ``.pickle``).
        backend_args: mmengine file backend arguments.

    Returns:
        The list of ref dicts, as stored.
    """
    content = get(path, backend_args=backend_args)
    fmt = _detect_format(path, content, file_format)
    try:
        if fmt == 'json':
            refs = json.loads(content)
        else:
            # Python 2 ``str`` objects are decoded as UTF-8 (a superset of the ASCII default).
            refs = _BuiltinsOnlyUnpickler(io.BytesIO(content), encoding='utf-8').load()
    except (ValueError, pickle.UnpicklingError, EOFError) as e:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        kind = 'JSON' if fmt == 'json' else 'pickle'
        raise ValueError(f'{path}: cannot read the refs as {kind}: {e}') from e
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise ValueError(f'{path}: expected a list of ref dicts, got {type(refs).__name__}')
    return refs


def join_sentences(sentences: Sequence[str]) -> str:
    """PSALM's referring text: ``' s1. s2.'`` (the reference builds it with
    ``instruction += ' {}.'.format(sent['sent'])``: a leading space and a dot after each)."""
    return ''.join(f' {s}.' for s in sentences)


def _field(record: dict, key: str, path: str, what: str):
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f'{path}: {what} has no field {key!r}')
    return record[key]


@DATASETS.register_module()
class PSALMRefCocoDataset(BaseDetDataset):
    """RefCOCO, RefCOCO+ and RefCOCOg (UNC / UMD splits) for PSALM's ``referring`` task.

    Reads the refer toolkit's ``instances.json`` (``ann_file``) and its refs (``split_file``):
    ``refs(unc).p`` / ``refs(umd).p`` (read by a restricted unpickler, see :func:`load_refs`)
    or a JSON export of the same list (``tools/dataset_converters/refer_pickle_to_json.py``).

    Protocols (``evaluation_protocols.md`` 1.1):

    - ``per_ref`` (PSALM, training and evaluation): one sample per ref (= referred object), all
      its sentences joined by :func:`join_sentences`;
    - ``per_sentence`` (LISA / GSVA evaluation): one sample per sentence, each formatted the same
      way (``' s.'``) so that the condition prompt looks as in training.

    Each data info holds ``img_path``, ``img_id``, ``height``, ``width``, ``task``, ``text``,
    ``sentences`` (the raw sentence strings of the sample), ``ref_id`` (+ ``sent_id`` for
    ``per_sentence``) and ``instances``: ``[{'mask': COCO segmentation, 'bbox': xyxy,
    'bbox_label': 0, 'ignore_flag': 0}]``.

    Args:
        ann_file: the toolkit's ``instances.json`` (COCO ``images`` / ``annotations``).
        split_file: the refs list (pickle or JSON, chosen by extension).
        split: ``'train'``, ``'val'``, ``'testA'``, ``'testB'`` or ``'test'`` (whatever the refs
            name).
        protocol: ``'per_ref'`` or ``'per_sentence'``.
        sample_sentence: ``per_ref`` only: the text is one of the ref's sentences drawn at random
            at every access, instead of all of them joined (the reference always joins).
        sentence_key: sentence field used as text: ``'sent'`` (the toolkit's lower-cased,
            tokenised form, used by the reference) or ``'raw'``.
        data_prefix: ``dict(img_path=<image folder>)``, e.g. COCO ``train2014/``.
        **kwargs: :class:`~mmdet.datasets.BaseDetDataset` arguments.
    """

    METAINFO = dict(classes=('object', ))
    TASK = 'referring'
    # How ``split_file`` is parsed: None = from the extension (see :func:`load_refs`).
    REFS_FORMAT: Optional[str] = None

    def __init__(self, ann_file: str, split_file: str, split: str = 'train',
                 protocol: str = 'per_ref', sample_sentence: bool = False,
                 sentence_key: str = 'sent', **kwargs) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f'{type(self).__name__}: protocol must be one of {PROTOCOLS}, '
                             f'got {protocol!r}')
        if sample_sentence and protocol != 'per_ref':
            raise ValueError(f'{type(self).__name__}: sample_sentence needs protocol="per_ref" '
                             '(a per_sentence sample has one sentence)')
        self.split_file = split_file
        self.split = split
        self.protocol = protocol
        self.sample_sentence = sample_sentence
        self.sentence_key = sentence_key
        super().__init__(ann_file=ann_file, **kwargs)

    def _join_prefix(self) -> None:
        if self.split_file and not mmengine.is_abs(self.split_file):
            self.split_file = osp.join(self.data_root, self.split_file)
        super()._join_prefix()

    def _load_instances(self) -> tuple:
        """(images by id, annotations by id) of ``ann_file``."""
        try:
            coco = mmengine.load(self.ann_file, file_format='json', backend_args=self.backend_args)
        except ValueError as e:
            raise ValueError(f'{self.ann_file}: cannot read it as JSON: {e}') from e
        images = _field(coco, 'images', self.ann_file, 'the file')
        anns = _field(coco, 'annotations', self.ann_file, 'the file')
        img_by_id = {_field(img, 'id', self.ann_file, f'images[{i}]'): img
                     for i, img in enumerate(images)}
        ann_by_id = {_field(ann, 'id', self.ann_file, f'annotations[{i}]'): ann
                     for i, ann in enumerate(anns)}
        return img_by_id, ann_by_id

    def _target_ids(self, ref: dict, what: str) -> List[int]:
        """Annotation ids a ref points to (RefCOCO: exactly one)."""
        ann_id = _field(ref, 'ann_id', self.split_file, what)
        if not isinstance(ann_id, int):
            raise ValueError(f'{self.split_file}: {what} field "ann_id" must be one annotation id, '
                             f'got {ann_id!r} (multi-target refs: use GRefCocoDataset)')
        return [ann_id]

    def _instance(self, ann: dict, what: str) -> dict:
        seg = _field(ann, 'segmentation', self.ann_file, what)
        bbox = _field(ann, 'bbox', self.ann_file, what)
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise ValueError(f'{self.ann_file}: {what} field "bbox" must be [x, y, w, h], '
                             f'got {bbox!r}')
        x, y, w, h = bbox
        # The referred object is the target even if COCO marks it crowd (PSALM keeps it).
        return dict(mask=seg, bbox=[x, y, x + w, y + h], bbox_label=0, ignore_flag=0)

    def _extra_info(self, ref: dict, anns: List[dict]) -> dict:
        """Dataset-specific data-info fields (none for RefCOCO)."""
        return {}

    def load_data_list(self) -> List[dict]:
        if 'img_path' not in self.data_prefix:
            raise ValueError(f'{type(self).__name__}: data_prefix needs the key "img_path" (as '
                             f"mmdet's RefCocoDataset), got {self.data_prefix}")
        refs = load_refs(self.split_file, self.REFS_FORMAT, self.backend_args)
        img_by_id, ann_by_id = self._load_instances()
        img_prefix = self.data_prefix['img_path']
        join_path = get_file_backend(img_prefix, backend_args=self.backend_args).join_path

        data_list: List[dict] = []
        splits = set()
        for i, ref in enumerate(refs):
            what = f'ref #{i}'
            split = _field(ref, 'split', self.split_file, what)
            splits.add(split)
            if split != self.split:
                continue
            ref_id = _field(ref, 'ref_id', self.split_file, what)
            what = f'ref #{i} (ref_id {ref_id})'
            image_id = _field(ref, 'image_id', self.split_file, what)
            if image_id not in img_by_id:
                raise ValueError(f'{self.split_file}: {what} field "image_id" = {image_id} is not '
                                 f'an image of {self.ann_file}')
            image = img_by_id[image_id]
            anns = []
            for ann_id in self._target_ids(ref, what):
                if ann_id not in ann_by_id:
                    raise ValueError(f'{self.split_file}: {what} field "ann_id" = {ann_id} is not '
                                     f'an annotation of {self.ann_file}')
                ann = ann_by_id[ann_id]
                if _field(ann, 'image_id', self.ann_file, f'annotation {ann_id}') != image_id:
                    raise ValueError(f'{self.split_file}: {what} (image {image_id}) points to '
                                     f'annotation {ann_id} of image {ann["image_id"]} in '
                                     f'{self.ann_file}')
                anns.append(ann)
            sentences = _field(ref, 'sentences', self.split_file, what)
            if not isinstance(sentences, list) or not sentences:
                raise ValueError(f'{self.split_file}: {what} field "sentences" must be a '
                                 'non-empty list')
            texts = [
                _field(s, self.sentence_key, self.split_file, f'{what} sentences[{k}]')
                for k, s in enumerate(sentences)
            ]
            img_what = f'image {image_id}'
            base = dict(
                img_path=join_path(img_prefix,
                                   _field(image, 'file_name', self.ann_file, img_what)),
                img_id=image_id,
                height=_field(image, 'height', self.ann_file, img_what),
                width=_field(image, 'width', self.ann_file, img_what),
                task=self.TASK,
                ref_id=ref_id,
                instances=[self._instance(a, f'annotation {a["id"]}') for a in anns],
                **self._extra_info(ref, anns))
            if self.protocol == 'per_ref':
                data_list.append(dict(base, text=join_sentences(texts), sentences=texts))
            else:
                for k, (sent, text) in enumerate(zip(sentences, texts)):
                    sent_id = _field(sent, 'sent_id', self.split_file, f'{what} sentences[{k}]')
                    data_list.append(dict(base, text=join_sentences([text]), sentences=[text],
                                          sent_id=sent_id))
        if not data_list:
            raise ValueError(f'{self.split_file}: no ref in split {self.split!r}; splits present: '
                             f'{sorted(map(str, splits))}')
        return data_list

    def get_data_info(self, idx: int) -> Dict:
        info = super().get_data_info(idx)
        if self.sample_sentence:
            # Drawn per access (not once at load time as mmdet's text_mode='random').
            info['text'] = join_sentences([random.choice(info['sentences'])])
        return info
