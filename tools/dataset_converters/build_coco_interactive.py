"""Build COCO-Interactive (PSALM, appendix 8) from a COCO instances json.

    python tools/dataset_converters/build_coco_interactive.py \\
        data/coco/annotations/instances_train2017.json \\
        data/coco/coco_interactive_train_psalm.json [--seed 0] [--nproc 2] [--max-images N] \\
        [--point-rule circle|in_mask] [--mask-threshold half|mean]

Writes the reference's format (``datasets/bulid_COCO_Interactivate.py``): a list with one entry
per image that has annotations, in the order of ``images``::

    {'image': file_name, 'image_info': <COCO image>, 'new_img_id': 0, 1, ...,
     'anns': [<COCO annotation> + point_visual_prompt_mask, mask_visual_prompt_mask,
              box_visual_prompt_mask, scribble_visual_prompt_mask]}

each prompt an RLE ``{'counts': str, 'size': [h, w]}`` at the image size. Prompts follow the
paper's rules by default (see ``psalm.datasets.interactive_prompts``); ``--point-rule in_mask`` and
``--mask-threshold mean`` select the reference code's variants. Every annotation gets prompts,
crowd ones included, as in the reference; the dataset drops crowd annotations when reading.

The output only depends on the input and ``--seed`` (each image draws from its own generator seeded
with the seed and the image id), not on ``--nproc``. It is written to a temporary file next to the
destination and renamed when complete. The images are not needed.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from collections import Counter
from multiprocessing import Pool
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from psalm.datasets.interactive_prompts import (PAPER_RULES, PROMPT_KEYS, PromptRules,
                                                annotate_image, image_rng)

Task = Tuple[dict, List[dict], int]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file', help='COCO instances json (e.g. instances_train2017.json)')
    parser.add_argument('out_file', help='output json (e.g. coco_interactive_train_psalm.json)')
    parser.add_argument('--seed', type=int, default=0, help='base seed (default 0)')
    parser.add_argument('--nproc', type=int, default=1,
                        help='worker processes; 0 means os.cpu_count() (default 1)')
    parser.add_argument('--max-images', type=int,
                        help='stop after this many images with annotations (default: all)')
    parser.add_argument('--point-rule', choices=['circle', 'in_mask'], default=PAPER_RULES.point,
                        help="'circle': paper (default); 'in_mask': reference code")
    parser.add_argument('--mask-threshold', choices=['half', 'mean'],
                        default=PAPER_RULES.mask_threshold,
                        help="'half': paper, blur > 0.5 (default); 'mean': reference code")
    args = parser.parse_args(argv)
    if args.nproc < 0 or (args.max_images is not None and args.max_images < 1):
        parser.error('--nproc must be >= 0 and --max-images >= 1')
    return args


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_coco(path: str) -> Tuple[List[dict], Dict[int, List[dict]]]:
    """Read and check a COCO instances json -> (images, annotations grouped by image id).

    Raises:
        ValueError: naming the file, the entry and the field that is missing or malformed.
    """
    try:
        with open(path) as f:
            coco = json.load(f)
    except OSError as exc:
        raise ValueError(f'{path}: cannot read: {exc}') from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}: not valid json: {exc}') from exc
    if not isinstance(coco, dict):
        raise ValueError(f'{path}: expected a COCO instances object, got {type(coco).__name__}')
    for field in ('images', 'annotations'):
        if not isinstance(coco.get(field), list):
            raise ValueError(f"{path}: field '{field}' is missing or not a list")
    images = coco['images']
    anns_by_image: Dict[int, List[dict]] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise ValueError(f'{path}: images[{i}] is not an object')
        for field in ('id', 'height', 'width'):
            if not _is_int(img.get(field)) or img[field] < (0 if field == 'id' else 1):
                raise ValueError(f"{path}: images[{i}]: field '{field}' is missing or not a "
                                 f"{'non-negative' if field == 'id' else 'positive'} integer")
        if not isinstance(img.get('file_name'), str):
            raise ValueError(f"{path}: images[{i}] (id={img['id']}): field 'file_name' is "
                             'missing or not a string')
        if img['id'] in anns_by_image:
            raise ValueError(f"{path}: images[{i}]: field 'id' repeats image id {img['id']}")
        anns_by_image[img['id']] = []
    for j, ann in enumerate(coco['annotations']):
        if not isinstance(ann, dict):
            raise ValueError(f'{path}: annotations[{j}] is not an object')
        if ann.get('image_id') not in anns_by_image:
            raise ValueError(f"{path}: annotations[{j}] (id={ann.get('id')}): field 'image_id' "
                             f'({ann.get("image_id")!r}) names no image')
        if not isinstance(ann.get('segmentation'), (list, dict)):
            raise ValueError(f"{path}: annotations[{j}] (id={ann.get('id')}): field "
                             "'segmentation' is missing or neither polygons nor an RLE")
        anns_by_image[ann['image_id']].append(ann)
    return images, anns_by_image


_SEED = 0
_RULES = PAPER_RULES


def _init_worker(seed: int, rules: PromptRules) -> None:
    global _SEED, _RULES
    _SEED, _RULES = seed, rules


def _build_entry(task: Task) -> Tuple[str, Counter]:
    """One image -> its json entry (serialised here, in the worker) and its statistics."""
    img, anns, new_img_id = task
    anns, stats = annotate_image(img, anns, image_rng(_SEED, img['id']), _RULES)
    entry = {'image': img['file_name'], 'image_info': img, 'new_img_id': new_img_id,
             'anns': anns}
    return json.dumps(entry, separators=(',', ':')), stats


def _tasks(images: List[dict], anns_by_image: Dict[int, List[dict]],
           max_images: Optional[int]) -> List[Task]:
    # As the reference: images without annotations are skipped and take no new_img_id.
    tasks = []
    for img in images:
        anns = anns_by_image[img['id']]
        if anns:
            tasks.append((img, anns, len(tasks)))
            if max_images is not None and len(tasks) == max_images:
                break
    return tasks


def build_coco_interactive(in_file: str, out_file: str, seed: int = 0, nproc: int = 1,
                           max_images: Optional[int] = None,
                           rules: PromptRules = PAPER_RULES) -> Dict[str, float]:
    """Build the COCO-Interactive json of ``in_file`` into ``out_file`` (atomically).

    Returns:
        statistics: ``images``, ``instances``, ``prompts``, ``seconds``, ``prompts_per_s`` and
        the counters of :func:`psalm.datasets.interactive_prompts.annotate_image`.

    Raises:
        ValueError: on malformed input, naming the file and the field.
    """
    start = time.perf_counter()
    images, anns_by_image = load_coco(in_file)
    tasks = _tasks(images, anns_by_image, max_images)
    nproc = nproc or os.cpu_count() or 1
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp_file = osp.join(out_dir, f'.{osp.basename(out_file)}.tmp{os.getpid()}')
    stats: Counter = Counter()
    pool = Pool(nproc, _init_worker, (seed, rules)) if nproc > 1 else None
    try:
        if pool is None:
            _init_worker(seed, rules)
            results: Iterable = map(_build_entry, tasks)
        else:
            results = pool.imap(_build_entry, tasks, chunksize=16)
        with open(tmp_file, 'w') as f:
            f.write('[')
            for k, (text, image_stats) in enumerate(results):
                f.write(',\n' if k else '\n')
                f.write(text)
                stats.update(image_stats)
            f.write('\n]\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_file, out_file)
    except ValueError as exc:
        raise ValueError(f'{in_file}: {exc}') from exc
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if osp.exists(tmp_file):
            os.remove(tmp_file)
    seconds = time.perf_counter() - start
    result = dict(stats, images=len(tasks), instances=stats['instances'],
                  prompts=len(PROMPT_KEYS) * stats['instances'], seconds=seconds)
    result['prompts_per_s'] = result['prompts'] / max(seconds, 1e-9)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    rules = PromptRules(point=args.point_rule, mask_threshold=args.mask_threshold)
    try:
        stats = build_coco_interactive(args.in_file, args.out_file, args.seed, args.nproc,
                                       args.max_images, rules)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    n = max(stats['instances'], 1)
    empties = ', '.join(f"{t} {stats.get(f'empty_{t}', 0)}" for t in PROMPT_KEYS)
    print(f"wrote {args.out_file}: {stats['images']} images, {stats['instances']} instances "
          f"({stats.get('empty_masks', 0)} with an empty mask)")
    print(f'empty prompts: {empties}; points off their mask: {stats.get("point_off_mask", 0)} '
          f'({100.0 * stats.get("point_off_mask", 0) / n:.1f}%)')
    print(f"{stats['prompts']} prompts in {stats['seconds']:.1f} s: "
          f"{stats['prompts_per_s']:.0f} prompts/s (nproc={args.nproc or os.cpu_count()})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
