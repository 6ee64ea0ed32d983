"""Filter LLaVA-format conversation data to the entries whose image exists locally.

    python tools/dataset_converters/prepare_llava.py data/llava/llava_v1_5_mix665k.json \
        --image-root data/llava --out data/llava/llava_v1_5_mix665k_filtered.json [--keep-text-only]

The reference trains on ``llava_v1_5_mix665k.json`` filtered to samples with a readable image
(its prepare_llava_1_5.py, with hard-coded paths). Download the json from the LLaVA-1.5 release
and the images of its sources (COCO train2017, GQA, OCR-VQA, TextVQA, VisualGenome) under
``--image-root`` with the sub-folders the json names (``coco/train2017/...``). The output is
written atomically (temporary file, then rename).
"""
import argparse
import json
import os
import os.path as osp
import tempfile


def filter_entries(entries: list, image_root: str, keep_text_only: bool) -> list:
    kept = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or 'conversations' not in entry:
            raise ValueError(f'entry {i}: not a LLaVA conversation (no "conversations")')
        image = entry.get('image')
        if image is None:
            if keep_text_only:
                kept.append(entry)
        elif osp.isfile(osp.join(image_root, image)):
            kept.append(entry)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file')
    parser.add_argument('--image-root', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--keep-text-only', action='store_true')
    args = parser.parse_args()
    with open(args.ann_file) as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise SystemExit(f'{args.ann_file}: expected a list of conversations')
    kept = filter_entries(entries, args.image_root, args.keep_text_only)
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(args.out)), suffix='.json.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(kept, f)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f'kept {len(kept)} of {len(entries)} entries -> {args.out}')


if __name__ == '__main__':
    main()
