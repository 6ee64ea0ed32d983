"""Convert the released PSALM checkpoint (HF format, e.g. a local copy of EnmingZhang/PSALM) into
a checkpoint, a tokenizer and a config of this project.

    python tools/model_converters/psalm_hf_to_mmdet.py SRC_DIR OUT_DIR \
        [--base-config configs/psalm/psalm_swinb_phi15_joint.py] [--overwrite]

SRC_DIR holds config.json, the tokenizer files (vocab.json, merges.txt, added_tokens.json,
special_tokens_map.json, tokenizer_config.json) and the weights (sharded safetensors with
model.safetensors.index.json, or pytorch_model*.bin). OUT_DIR receives

    psalm.pth            {'state_dict', 'meta'}: loads strictly into the model of the config below
    tokenizer/           the released tokenizer ([PAD] and [SEG] at their released ids)
    psalm_converted.py   BASE_CONFIG + the released dims (vocabulary, widths, depths) + load_from

Nothing is written unless every released tensor is mapped (or is one of the listed unused ones,
or matches a --drop pattern) and the result matches the model of psalm_converted.py key for key
and shape for shape.
Then: python tools/test.py OUT_DIR/psalm_converted.py OUT_DIR/psalm.pth (with a dataset config).
"""
import argparse
import os.path as osp
import sys

from psalm.converters import ConversionError, convert_psalm_hf

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_BASE = osp.join(REPO, 'configs', 'psalm', 'psalm_swinb_phi15_joint.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src_dir', help='released PSALM directory (HF format)')
    parser.add_argument('out_dir', help='output directory (must not exist or be empty)')
    parser.add_argument('--base-config', default=DEFAULT_BASE,
                        help='config whose architecture the weights are checked against and '
                        'that the written config inherits')
    parser.add_argument('--overwrite', action='store_true', help='replace a non-empty out_dir')
    parser.add_argument('--drop', nargs='+', default=[], metavar='REGEX',
                        help='further source keys (full-match regexes) to drop, for keys known '
                        'to be unused by the released forward; listed in the meta')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        meta = convert_psalm_hf(args.src_dir, args.out_dir, args.base_config,
                                overwrite=args.overwrite, extra_drop=args.drop)
    except ConversionError as e:
        print(f'conversion refused, nothing written: {e}', file=sys.stderr)
        return 1
    print(f'dropped (unused by the released forward): {list(meta["dropped"])}')
    print(f'special tokens: {meta["special_token_ids"]}, tokenizer size {meta["tokenizer_size"]}')
    print(f'config: {osp.join(osp.abspath(args.out_dir), "psalm_converted.py")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
