"""PSALM demo: one command per task on images (or a video), writing pictures and JSON results.

Outputs: ``<out-dir>/vis/<name>.jpg`` (masks, labels, prompts and text drawn) and
``<out-dir>/preds/<name>.json`` (COCO RLE masks and scores, see ``PSALMInferencer.pred2dict``).
Video (``--task video``): ``masks/<frame>.png`` (indexed, DAVIS palette), ``vis/<frame>.jpg``,
``preds/<video>.json`` and ``<video>.mp4``.

Visual prompts (``--region``, one per region, coordinates in original pixels)::

    point:X,Y[;X,Y...]          disks of radius 10 px
    scribble:X,Y;X,Y;...[|...]  polylines ('|' separates strokes), 5 px radius
    box:X1,Y1,X2,Y2
    mask:FILE.png               nonzero pixels of a PNG of the image's size

The checkpoint is ``--weights``, else the config's ``load_from`` (converted configs set it).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import psalm  # noqa: F401  (registers modules and the safe checkpoint allow-list)
from mmengine.config import Config, DictAction

from psalm.apis import PSALMInferencer
from psalm.apis.inferencer import summarize
from psalm.datasets import load_class_names

TASK_CHOICES = ('panoptic', 'instance', 'semantic', 'referring', 'gres', 'interactive', 'vqa',
                'video')
# The documented command of each task (README "Demo and inference API"), after
# ``python tools/demo.py CONFIG``. The inputs come from scikit-image's astronaut photo:
# ``python -c "from psalm.testing.demo_inputs import make_demo_inputs as m;
# m('work_dirs/demo_inputs')"``. tests/test_tools/test_demo.py runs every one of them.
_IN = 'work_dirs/demo_inputs/'
EXAMPLES: Dict[str, str] = {
    'panoptic': f'{_IN}astronaut.png --task panoptic '
                '--categories person helmet rocket flag --stuff wall',
    'instance': f'{_IN}astronaut.png --task instance '
                '--categories person helmet rocket flag --score-thr 0.1',
    'semantic': f'{_IN}astronaut.png --task semantic '
                '--categories person helmet rocket flag wall',
    'referring': f'{_IN}astronaut.png --task referring '
                 '--text "the woman in the orange space suit"',
    'gres': f'{_IN}astronaut.png --task gres --text "all the flags in the picture"',
    'interactive': f'{_IN}astronaut.png --task interactive --region point:226,112 '
                   '--region box:280,340,505,510 --region "scribble:30,60;70,200;40,330" '
                   f'--region mask:{_IN}rocket_mask.png',
    'vqa': f'{_IN}astronaut.png --task vqa --question "What is the person wearing?"',
    'video': f'{_IN}astronaut_pan --task video --first-mask {_IN}astronaut_pan_00000.png',
}


def _epilog() -> str:
    lines = ['examples (CONFIG: e.g. the converted psalm_converted.py):']
    lines += [f'  python tools/demo.py CONFIG {cmd}' for cmd in EXAMPLES.values()]
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file (e.g. a converted psalm_converted.py)')
    parser.add_argument('inputs', nargs='+',
                        help='image files or folders; for --task video one folder of frames')
    parser.add_argument('--task', required=True, choices=TASK_CHOICES)
    parser.add_argument('--weights', help='checkpoint; default: the config\'s load_from')
    parser.add_argument('--random-weights', action='store_true',
                        help='run without a checkpoint (random weights: shows the drawing only)')
    parser.add_argument('--out-dir', default='work_dirs/demo', help='output folder')
    cat = parser.add_argument_group('category tasks (panoptic, instance, semantic)')
    cat.add_argument('--categories', nargs='+', metavar='NAME',
                     help='category names (any: open vocabulary); things for panoptic')
    cat.add_argument('--stuff', nargs='+', metavar='NAME', default=[],
                     help='stuff category names (panoptic: no instances)')
    cat.add_argument('--class-list', metavar='LIST',
                     help='a shipped class list instead: ade20k_150, cityscapes_19, '
                     'pascal_context_59, pascal_context_459, pascal_voc_20')
    cat.add_argument('--categories-file', metavar='TXT', help='one category name per line')
    parser.add_argument('--text', help='referring / gres: the sentence')
    parser.add_argument('--region', action='append', default=[], metavar='SPEC',
                        help='interactive: one region (point:..., scribble:..., box:..., '
                        'mask:FILE); repeat for several regions')
    parser.add_argument('--prompts', metavar='JSON',
                        help='interactive: a JSON list of {"type", "data"} region prompts')
    parser.add_argument('--question', help='vqa: the question')
    vid = parser.add_argument_group('video (--task video)')
    vid.add_argument('--first-mask', metavar='PNG',
                     help='indexed PNG of the first frame (palette index = object id)')
    vid.add_argument('--fps', type=float, default=10.0, help='frame rate of the mp4')
    vid.add_argument('--memory-iou-thr', type=float, default=0.4,
                     help='predictions overlapping above this IoU are not used as prompts')
    vid.add_argument('--no-video', action='store_true', help='no mp4, frames only')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--device', default='cpu', help='cpu, cuda:0, ...')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='instance task: minimum score of drawn instances')
    parser.add_argument('--palette', default='none', help='mmdet palette name (coco, random)')
    parser.add_argument('--no-save-vis', action='store_true', help='do not write vis/')
    parser.add_argument('--no-save-pred', action='store_true', help='do not write preds/')
    parser.add_argument('--print-result', action='store_true',
                        help='print each result (without masks)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def parse_region(spec: str) -> dict:
    """``point:10,20;30,40`` / ``scribble:...|...`` / ``box:x1,y1,x2,y2`` / ``mask:FILE``."""
    kind, sep, body = spec.partition(':')
    if not sep or not body:
        raise ValueError(f'--region {spec!r}: expected TYPE:DATA (point, scribble, box, mask)')
    if kind == 'mask':
        return dict(type='mask', data=body)

    def numbers(text: str) -> List[List[float]]:
        try:
            pts = [[float(v) for v in p.split(',')] for p in text.split(';') if p.strip()]
        except ValueError as err:
            raise ValueError(f'--region {spec!r}: {err}') from err
        if not pts or any(len(p) != 2 for p in pts):
            raise ValueError(f'--region {spec!r}: expected X,Y pairs separated by ";"')
        return pts

    if kind == 'point':
        return dict(type='point', data=numbers(body))
    if kind == 'scribble':
        return dict(type='scribble', data=[numbers(stroke) for stroke in body.split('|')])
    if kind == 'box':
        try:
            box = [float(v) for v in body.split(',')]
        except ValueError as err:
            raise ValueError(f'--region {spec!r}: {err}') from err
        if len(box) != 4:
            raise ValueError(f'--region {spec!r}: expected box:X1,Y1,X2,Y2')
        return dict(type='box', data=box)
    raise ValueError(f'--region {spec!r}: unknown type {kind!r} (point, scribble, box, mask)')


def category_prompt(args: argparse.Namespace) -> Dict[str, Optional[list]]:
    """``categories`` and ``is_thing`` from the arguments (None: the config's classes)."""
    given = [bool(args.categories), bool(args.class_list), bool(args.categories_file)]
    if sum(given) > 1:
        raise ValueError('give one of --categories, --class-list, --categories-file')
    things: List[str] = []
    if args.categories:
        things = list(args.categories)
    elif args.class_list:
        try:
            things = list(load_class_names(args.class_list, synonyms=False))
        except KeyError as err:
            raise ValueError(f'--class-list: {err.args[0]}') from err
    elif args.categories_file:
        if not osp.isfile(args.categories_file):
            raise FileNotFoundError(f'--categories-file {args.categories_file!r} not found')
        with open(args.categories_file, encoding='utf-8') as f:
            things = [line.strip() for line in f if line.strip()]
        if not things:
            raise ValueError(f'--categories-file {args.categories_file!r} holds no name')
    if not things and not args.stuff:
        return dict(categories=None, is_thing=None)
    names = things + list(args.stuff)
    return dict(categories=names, is_thing=[True] * len(things) + [False] * len(args.stuff))


def visual_prompts(args: argparse.Namespace) -> Optional[list]:
    regions = [parse_region(s) for s in args.region]
    if args.prompts:
        if not osp.isfile(args.prompts):
            raise FileNotFoundError(f'--prompts {args.prompts!r} not found')
        with open(args.prompts, encoding='utf-8') as f:
            loaded = json.load(f)
        if not isinstance(loaded, list):
            raise ValueError(f'--prompts {args.prompts!r}: expected a JSON list of regions')
        regions += loaded
    return regions or None


def build_inferencer(args: argparse.Namespace) -> PSALMInferencer:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config!r} not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    weights = args.weights or cfg.get('load_from')
    if weights is None and not args.random_weights:
        raise ValueError(f'no checkpoint: pass --weights, set load_from in {args.config}, or '
                         'pass --random-weights to see the drawing of an untrained model')
    if args.random_weights and args.weights:
        raise ValueError('--random-weights and --weights exclude each other')
    if args.random_weights:
        cfg.load_from = None
    return PSALMInferencer(cfg, weights=None if args.random_weights else weights,
                           device=args.device, palette=args.palette)


def run(args: argparse.Namespace,
        inferencer: Optional[PSALMInferencer] = None) -> List[dict]:
    """Run the parsed command; ``inferencer`` (optional) replaces the one the arguments build."""
    # Prompts are parsed before the model is built: a typo costs no loading time.
    if args.task == 'video':
        if len(args.inputs) != 1 or not args.first_mask:
            raise ValueError('--task video takes one folder of frames and --first-mask')
        inferencer = inferencer or build_inferencer(args)
        result = inferencer.track_video(args.inputs[0], args.first_mask, out_dir=args.out_dir,
                                        memory_iou_thr=args.memory_iou_thr, fps=args.fps,
                                        write_video=not args.no_video,
                                        draw=not args.no_save_vis)
        updated = sum(f['memory_updated'] for f in result['frames'][1:])
        print(f'{result["video"]}: {len(result["frames"])} frames, objects '
              f'{result["object_ids"]}, memory updated on {updated} of '
              f'{len(result["frames"]) - 1} frames -> {args.out_dir}')
        if result.get('video_path'):
            print(f'video: {result["video_path"]}')
        return [result]
    prompt = dict(text=args.text, question=args.question)
    if args.task in ('panoptic', 'instance', 'semantic'):
        prompt.update(category_prompt(args))
    if args.task == 'interactive':
        prompt['visual_prompts'] = visual_prompts(args)
    inferencer = inferencer or build_inferencer(args)
    inputs = args.inputs if len(args.inputs) > 1 else args.inputs[0]
    results = inferencer(inputs, task=args.task, batch_size=args.batch_size,
                         out_dir=args.out_dir, no_save_vis=args.no_save_vis,
                         no_save_pred=args.no_save_pred, pred_score_thr=args.score_thr,
                         **prompt)
    for pred in results['predictions']:
        if args.print_result:
            print(json.dumps(summarize(pred)))
        counts = ', '.join(f'{len(pred[k])} {k}' for k in ('instances', 'panoptic', 'semantic')
                           if k in pred)
        extra = f' answer: {pred["answer"]!r}' if 'answer' in pred else ''
        if 'no_target' in pred:
            extra += f' no_target: {pred["no_target"]}'
        print(f'{pred["name"]}: {pred["task"]} {counts}{extra}')
    print(f'results in {args.out_dir}')
    return results['predictions']


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError) as err:
        # Bad input (checked before anything is written): one clear line, no traceback.
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
