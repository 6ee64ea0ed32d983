"""Generate "shapes", the synthetic multi-task benchmark, in the real datasets' formats.

    python tools/dataset_converters/generate_shapes.py data/shapes \\
        [--num-train 2000] [--num-val 200] [--seed 0] [--size 128] [--nproc 2] [--force]

Scenes (``psalm.datasets.shapes_generator``): 1-3 textured stuff regions (sky, grass, wall) and
2-5 coloured things (circle, square, triangle, star; red, green, blue, yellow, purple; small or
large) with occlusions. Written under ``OUT_DIR`` (file names as ``configs/psalm/_base_/datasets/
shapes.py`` reads them)::

    train/train_000000.jpg ...                  val/val_000000.jpg ...   (JPEG quality 95)
    annotations/panoptic_{train,val}.json       COCO panoptic: things first, then stuff
    annotations/panoptic_{train,val}/*.png      segment id = R + 256 G + 256^2 B
    annotations/instances_{train,val}.json      COCO instances of the things (RLE), + attributes
    refer/instances.json                        both splits' images and things (refer toolkit)
    refer/refs.json                             RefCOCO-style refs, one per thing, 2-3 sentences
    refer/grefs.json                            gRefCOCO-style: several, one or no target
    coco_interactive_{train,val}_psalm.json     tools/dataset_converters/build_coco_interactive.py
    llava/shapes_instruct_{train,val}.json      LLaVA conversations (counting, colour, ...)
    meta.json                                   settings and statistics (written last)

Image ``index`` of a split only depends on ``--seed``, the split, ``index`` and ``--size``: the
files are byte-identical for any ``--nproc``, and a larger ``--num-train`` only adds images. The
set is written to a temporary folder next to ``OUT_DIR`` and renamed into place when complete; an
existing complete set with the same settings is kept (``--force`` regenerates it).
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time
from collections import Counter
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from panopticapi.utils import id2rgb

from psalm.datasets.interactive_prompts import PromptRules
from psalm.datasets.shapes_generator import (COLOURS, SPLITS, STUFF_CLASSES, THING_CLASSES,
                                             generate_sample, image_id_of)
from psalm.utils import import_script

FORMAT_VERSION = 1
COCO_IMAGE_SIZE = 640  # the builder's pixel rules are COCO's; they are scaled to the canvas
PANOPTIC_COLOURS = [list(COLOURS[c]) for c in ('red', 'green', 'blue', 'yellow')] + [
    [135, 206, 235], [70, 105, 45], [170, 155, 135]]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='output folder, e.g. data/shapes')
    parser.add_argument('--num-train', type=int, default=2000, help='train images (2000)')
    parser.add_argument('--num-val', type=int, default=200, help='val images (200)')
    parser.add_argument('--seed', type=int, default=0, help='base seed (0)')
    parser.add_argument('--size', type=int, default=128, help='canvas side, px (128)')
    parser.add_argument('--nproc', type=int, default=2,
                        help='worker processes; 0 means os.cpu_count() (2)')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if OUT_DIR holds a complete set')
    args = parser.parse_args(argv)
    if args.num_train < 1 or args.num_val < 1:
        parser.error('--num-train and --num-val must be >= 1')
    if args.size < 64:
        parser.error('--size must be >= 64')
    if args.nproc < 0 or args.seed < 0:
        parser.error('--nproc and --seed must be >= 0')
    return args


def load_interactive_builder():
    """The COCO-Interactive builder module (``build_coco_interactive.py`` beside this file)."""
    return import_script(osp.join(osp.dirname(osp.abspath(__file__)), 'build_coco_interactive.py'))


def shapes_prompt_rules(size: int) -> PromptRules:
    """The builder's rules for ``size``-px scenes: its pixel amounts (scribble amplitude, mask
    blur) scaled from COCO's ~640-px images, and the reference code's in-mask point rule, so that
    a point prompt always lies on its (possibly occluded, star-shaped) target."""
    f = size / COCO_IMAGE_SIZE
    return PromptRules(point='in_mask', scribble_amplitude=(10.0 * f, 20.0 * f),
                       mask_sigma=max(2.0 * f, 0.5))


def _write_json(path: str, obj) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))


def _write_bytes(path: str, data: np.ndarray) -> None:
    with open(path, 'wb') as f:
        f.write(data.tobytes())


def make_image(task: Tuple[str, str, int, int, int]) -> dict:
    """Worker: generate image ``index`` of ``split``, write its JPEG and panoptic PNG under
    ``root``; return its annotations (everything of :func:`generate_sample` but the arrays)."""
    root, split, index, seed, size = task
    sample = generate_sample(seed, split, index, size)
    info = sample['image_info']
    stem = osp.splitext(info['file_name'])[0]
    ok, jpg = cv2.imencode('.jpg', sample['image'][..., ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    ok2, png = cv2.imencode('.png', id2rgb(sample['panoptic']).astype(np.uint8)[..., ::-1])
    if not (ok and ok2):
        raise RuntimeError(f'{split} image {index}: OpenCV could not encode it')
    _write_bytes(osp.join(root, split, info['file_name']), jpg)
    _write_bytes(osp.join(root, 'annotations', f'panoptic_{split}', f'{stem}.png'), png)
    return {k: v for k, v in sample.items() if k not in ('image', 'panoptic')}


def _sentences(texts: List[str], next_id: int) -> List[dict]:
    return [dict(tokens=t.split(), raw=t, sent_id=next_id + k, sent=t)
            for k, t in enumerate(texts)]


def write_annotations(root: str, records: Dict[str, List[dict]]) -> Counter:
    """Write every json of the set from the per-image records (train then val order).

    Returns:
        statistics (counts) of the set.
    """
    stats: Counter = Counter()
    thing_cats = [dict(id=i + 1, name=n, supercategory='shape')
                  for i, n in enumerate(THING_CLASSES)]
    pan_cats = [dict(id=i + 1, name=n, isthing=int(n in THING_CLASSES),
                     supercategory='shape' if n in THING_CLASSES else 'background',
                     color=PANOPTIC_COLOURS[i])
                for i, n in enumerate(THING_CLASSES + STUFF_CLASSES)]
    all_images, all_anns, refs, grefs = [], [], [], []
    ref_sent_id = gref_sent_id = 0
    for split in SPLITS:
        images = [r['image_info'] for r in records[split]]
        anns = [a for r in records[split] for a in r['annotations']]
        pan_anns = [dict(image_id=r['image_info']['id'],
                         file_name=r['image_info']['file_name'].replace('.jpg', '.png'),
                         segments_info=r['segments_info']) for r in records[split]]
        _write_json(osp.join(root, 'annotations', f'panoptic_{split}.json'),
                    dict(images=images, annotations=pan_anns, categories=pan_cats))
        _write_json(osp.join(root, 'annotations', f'instances_{split}.json'),
                    dict(images=images, annotations=anns, categories=thing_cats))
        all_images += images
        all_anns += anns
        stats[f'{split}_images'] = len(images)
        stats[f'{split}_things'] = len(anns)
        stats[f'{split}_stuff_segments'] = sum(
            len(r['segments_info']) - len(r['annotations']) for r in records[split])

        conversations = []
        for r in records[split]:
            info = r['image_info']
            stem = osp.splitext(info['file_name'])[0]
            for k, (question, answer) in enumerate(r['questions']):
                conversations.append(dict(
                    id=f'{stem}_q{k}', image=f"{split}/{info['file_name']}",
                    conversations=[dict(value=f'<image>\n{question}', **{'from': 'human'}),
                                   dict(value=answer, **{'from': 'gpt'})]))
            stem_of = f"{stem}_{{}}.jpg"
            for ref in r['refs']:
                sentences = _sentences(ref['sentences'], ref_sent_id)
                ref_sent_id += len(sentences)
                refs.append(dict(
                    ref_id=len(refs), ann_id=ref['ann_id'], image_id=info['id'], split=split,
                    sentences=sentences, sent_ids=[s['sent_id'] for s in sentences],
                    category_id=ref['category_id'], file_name=stem_of.format(ref['ann_id']),
                    needs_more_than_shape=ref['needs_more_than_shape'],
                    needs_spatial=ref['needs_spatial']))
                stats[f'{split}_refs'] += 1
                stats[f'{split}_ref_sentences'] += len(sentences)
                stats['refs_needing_more_than_shape'] += ref['needs_more_than_shape']
                stats['refs_needing_spatial'] += ref['needs_spatial']
                for word in ref['canonical_uses']:
                    stats[f'refs_canonical_uses_{word}'] += 1
                stats['ref_sentences_with_spatial_words'] += sum(ref['spatial'])
            for gref in r['grefs']:
                sentences = _sentences(gref['sentences'], gref_sent_id)
                gref_sent_id += len(sentences)
                no_target = not gref['ann_ids']
                grefs.append(dict(
                    ref_id=len(grefs), ann_id=gref['ann_ids'] or [-1], image_id=info['id'],
                    split=split, sentences=sentences, sent_ids=[s['sent_id'] for s in sentences],
                    category_id=gref['category_ids'], no_target=no_target,
                    file_name=stem_of.format(gref['ann_ids'][0] if gref['ann_ids'] else -1),
                    kind=gref['kind']))
                stats[f'{split}_grefs'] += 1
                stats[f'{split}_gref_sentences'] += len(sentences)
                stats[f"grefs_{gref['kind']}"] += 1
                stats['gref_sentences_no_target'] += no_target * len(sentences)
        _write_json(osp.join(root, 'llava', f'shapes_instruct_{split}.json'), conversations)
        stats[f'{split}_instruct_samples'] = len(conversations)
    _write_json(osp.join(root, 'refer', 'instances.json'),
                dict(images=all_images, annotations=all_anns, categories=thing_cats))
    _write_json(osp.join(root, 'refer', 'refs.json'), refs)
    _write_json(osp.join(root, 'refer', 'grefs.json'), grefs)
    return stats


def summarize(stats: Counter) -> dict:
    """Counts -> the statistics stored in meta.json (counts and shares in %)."""
    refs = stats['train_refs'] + stats['val_refs']
    ref_sents = stats['train_ref_sentences'] + stats['val_ref_sentences']
    grefs = stats['train_grefs'] + stats['val_grefs']
    gref_sents = stats['train_gref_sentences'] + stats['val_gref_sentences']

    def pct(a: float, b: float) -> float:
        return round(100.0 * a / max(b, 1), 1)

    out = {k: int(v) for k, v in sorted(stats.items())}
    out.update(
        refs_needing_more_than_shape_pct=pct(stats['refs_needing_more_than_shape'], refs),
        refs_needing_spatial_pct=pct(stats['refs_needing_spatial'], refs),
        refs_canonical_uses_colour_pct=pct(stats['refs_canonical_uses_colour'], refs),
        refs_canonical_uses_size_pct=pct(stats['refs_canonical_uses_size'], refs),
        ref_sentences_with_spatial_words_pct=pct(stats['ref_sentences_with_spatial_words'],
                                                 ref_sents),
        grefs_no_target_pct=pct(stats['grefs_none'], grefs),
        gref_sentences_no_target_pct=pct(stats['gref_sentences_no_target'], gref_sents),
        grefs_multi_target_pct=pct(stats['grefs_multi'], grefs))
    return out


def _generate_into(root: str, settings: dict, nproc: int) -> dict:
    seed, size = settings['seed'], settings['size']
    counts = dict(train=settings['num_train'], val=settings['num_val'])
    for split in SPLITS:
        image_id_of(split, counts[split] - 1)  # fails early on too many images
        os.makedirs(osp.join(root, split))
        os.makedirs(osp.join(root, 'annotations', f'panoptic_{split}'))
    tasks = [(root, split, i, seed, size) for split in SPLITS for i in range(counts[split])]
    if nproc > 1:
        with Pool(nproc) as pool:
            results = pool.map(make_image, tasks, chunksize=16)
    else:
        results = [make_image(t) for t in tasks]
    records = dict(train=results[:counts['train']], val=results[counts['train']:])
    stats = write_annotations(root, records)
    builder = load_interactive_builder()
    rules = shapes_prompt_rules(size)
    for split in SPLITS:
        built = builder.build_coco_interactive(
            osp.join(root, 'annotations', f'instances_{split}.json'),
            osp.join(root, f'coco_interactive_{split}_psalm.json'), seed=seed, nproc=nproc,
            rules=rules)
        stats[f'{split}_interactive_images'] = built['images']
        stats[f'{split}_interactive_regions'] = built['instances']
        stats['interactive_points_off_mask'] += built.get('point_off_mask', 0)
    meta = dict(dataset='shapes', settings=settings, statistics=summarize(stats))
    _write_json(osp.join(root, 'meta.json'), meta)
    return meta


def generate_shapes(out_dir: str, num_train: int = 2000, num_val: int = 200, seed: int = 0,
                    size: int = 128, nproc: int = 2, force: bool = False) -> dict:
    """Generate the set into ``out_dir`` atomically; keep an existing complete one.

    Returns:
        the content of ``meta.json`` plus ``skipped`` (bool) and ``seconds``.

    Raises:
        FileExistsError: ``out_dir`` holds something else (no ``meta.json``, or other settings)
            and ``force`` is False.
    """
    start = time.perf_counter()
    settings = dict(format_version=FORMAT_VERSION, seed=seed, size=size, num_train=num_train,
                    num_val=num_val)
    out_dir = osp.abspath(out_dir)
    meta_file = osp.join(out_dir, 'meta.json')
    if osp.exists(out_dir) and not force:
        if osp.isfile(meta_file):
            with open(meta_file) as f:
                meta = json.load(f)
            if meta.get('settings') == settings:
                return dict(meta, skipped=True, seconds=time.perf_counter() - start)
            raise FileExistsError(f'{out_dir} holds a shapes set made with other settings '
                                  f'({meta.get("settings")}, asked {settings}); use --force '
                                  'to replace it')
        if os.listdir(out_dir):
            raise FileExistsError(f'{out_dir} exists and is not a complete shapes set (no '
                                  'meta.json); use --force to replace it')
    parent, name = osp.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{name}.tmp-{os.getpid()}')
    old = osp.join(parent, f'.{name}.old-{os.getpid()}')
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        meta = _generate_into(tmp, settings, nproc or os.cpu_count() or 1)
        if osp.exists(out_dir):
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return dict(meta, skipped=False, seconds=time.perf_counter() - start)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        meta = generate_shapes(args.out_dir, args.num_train, args.num_val, args.seed,
                               args.size, args.nproc, args.force)
    except (FileExistsError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    s = meta['statistics']
    if meta['skipped']:
        print(f'{args.out_dir}: complete set with these settings exists, kept (--force to '
              'regenerate)')
        return 0
    print(f"wrote {args.out_dir} in {meta['seconds']:.1f} s (nproc={args.nproc})")
    for split in SPLITS:
        print(f"  {split}: {s[f'{split}_images']} images, {s[f'{split}_things']} things, "
              f"{s[f'{split}_stuff_segments']} stuff segments, {s[f'{split}_refs']} refs "
              f"({s[f'{split}_ref_sentences']} sentences), {s[f'{split}_grefs']} grefs, "
              f"{s[f'{split}_interactive_regions']} interactive regions, "
              f"{s[f'{split}_instruct_samples']} instruction samples")
    print(f"  refs: 'the <shape>' ambiguous {s['refs_needing_more_than_shape_pct']}%, spatial "
          f"words needed {s['refs_needing_spatial_pct']}%, shortest description uses colour "
          f"{s['refs_canonical_uses_colour_pct']}% / size {s['refs_canonical_uses_size_pct']}%; "
          f"sentences with spatial words {s['ref_sentences_with_spatial_words_pct']}%")
    print(f"  grefs: multi-target {s['grefs_multi_target_pct']}%, no-target "
          f"{s['grefs_no_target_pct']}%")
    return 0


if __name__ == '__main__':
    sys.exit(main())
