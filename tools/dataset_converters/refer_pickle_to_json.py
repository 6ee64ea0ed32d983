"""Convert the refer toolkit's refs pickles (``refs(unc).p``, ``refs(umd).p``, ...) to JSON.

    python tools/dataset_converters/refer_pickle_to_json.py data/coco/refcoco/refs(unc).p \
        [data/coco/refcoco/refs(unc).json] [--overwrite]

The pickle is read by ``psalm.datasets.refcoco.load_refs`` (builtin values only, no code runs);
the JSON holds the same list and is what ``split_file`` can point to afterwards, so that no
pickle is ever loaded again. The output is written to a temporary file next to it and renamed
into place, so an interrupted run never leaves a truncated JSON behind.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional, Sequence

from psalm.datasets.refcoco import load_refs
from psalm.utils import write_bytes_atomic


def convert(src: str, dst: Optional[str] = None, overwrite: bool = False) -> str:
    """Write the refs of ``src`` (a pickle) as JSON to ``dst`` (default: ``src`` with a
    ``.json`` extension) and return ``dst``."""
    dst = dst or osp.splitext(src)[0] + '.json'
    if osp.abspath(dst) == osp.abspath(src):
        raise ValueError(f'{src}: the output would overwrite the input')
    if osp.exists(dst) and not overwrite:
        raise FileExistsError(f'{dst} exists (use --overwrite)')
    refs = load_refs(src, file_format='pkl')
    try:
        text = json.dumps(refs)
    except TypeError as e:
        raise ValueError(f'{src}: the refs hold values JSON cannot store: {e}') from e
    # JSON turns tuples into lists and non-str keys into str: refuse rather than alter the data.
    if json.loads(text) != refs:
        raise ValueError(f'{src}: the refs do not survive a JSON round trip (tuples or non-string '
                         'dict keys); not converted')
    write_bytes_atomic(dst, text.encode('utf-8'), fsync=True)
    return dst


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert a refer-toolkit refs pickle to JSON')
    parser.add_argument('src', help='refs pickle, e.g. data/coco/refcoco/refs(unc).p')
    parser.add_argument('dst', nargs='?', default=None,
                        help='output JSON (default: the input with a .json extension)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    dst = convert(args.src, args.dst, args.overwrite)
    print(f'{args.src} -> {dst}')


if __name__ == '__main__':
    main()
