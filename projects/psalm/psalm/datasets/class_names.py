"""Class-name lists shipped with the package (``psalm/data/class_names``, see its README.md)."""
from functools import lru_cache
from importlib import resources
from typing import Dict, List, Optional, Tuple

# name -> (plain file, synonym file or None, leading entries of the synonym file to drop).
# Synonym files are fc-clip's ``idx:name,...`` lists; Pascal VOC's starts with the background
# class, which the reference removes (docs/reference_implementation.md 8.2).
CLASS_LISTS: Dict[str, Tuple[str, Optional[str], int]] = {
    'ade20k_150': ('ade20k_150.txt', 'ade20k_150_with_prompt_eng.txt', 0),
    'ade20k_150_panoptic': ('ade20k_150_panoptic.txt', None, 0),
    'cityscapes_19': ('cityscapes_19.txt', None, 0),
    'pascal_context_59': ('pascal_context_59.txt', 'pascal_ctx_59_with_prompt_eng.txt', 0),
    'pascal_context_459': ('pascal_context_459.txt', 'pascal_ctx_459_with_prompt_eng.txt', 0),
    'pascal_voc_20': ('pascal_voc_20.txt', 'pascal_voc_21_with_prompt_eng.txt', 1),
}


def _read(filename: str) -> str:
    return (resources.files('psalm') / 'data' / 'class_names' / filename).read_text(
        encoding='utf-8')


def _parse_synonyms(filename: str, drop: int) -> List[str]:
    names = []
    for expected, line in enumerate(_read(filename).splitlines()):
        idx, _, name = line.partition(':')
        if not name or int(idx) != expected:
            raise ValueError(f'{filename}, line {expected + 1}: expected "{expected}:names", '
                             f'got {line!r}')
        names.append(name)
    if names and names[0] == 'invalid_class_id':  # OpenSeg's placeholder for id 0
        names = names[1:]
    return names[drop:]


@lru_cache(maxsize=None)
def _load(name: str, synonyms: bool) -> Tuple[str, ...]:
    if name not in CLASS_LISTS:
        raise KeyError(f'unknown class list {name!r}; known: {sorted(CLASS_LISTS)}')
    plain_file, synonym_file, drop = CLASS_LISTS[name]
    plain = [line for line in _read(plain_file).splitlines() if line]
    if not synonyms:
        return tuple(plain)
    if synonym_file is None:
        raise ValueError(f'no synonym list is shipped for {name!r} '
                         '(see psalm/data/class_names/README.md); use the plain names')
    names = _parse_synonyms(synonym_file, drop)
    if len(names) != len(plain):
        raise ValueError(f'{synonym_file} has {len(names)} classes, {plain_file} {len(plain)}')
    return tuple(names)


def load_class_names(name: str, synonyms: bool = False) -> List[str]:
    """Class names of a shipped list (a key of :data:`CLASS_LISTS`), in label order.

    Args:
        name: e.g. ``'ade20k_150'``, ``'pascal_context_459'``, ``'pascal_voc_20'``.
        synonyms: return fc-clip's prompt-engineered strings (``'wall,walls,brick wall,...'``,
            one comma-joined string per class, as the reference feeds them) instead of plain
            names.
    """
    return list(_load(name, bool(synonyms)))
