"""Convert detectron2's Mask2Former checkpoint (model_final_54b88a.pkl, Swin-B IN21k 384, COCO
panoptic) into the initial weights of PSALM's backbone, pixel decoder and transformer decoder.

    python tools/model_converters/mask2former_d2_to_mmdet.py model_final_54b88a.pkl OUT.pth \
        [--config configs/psalm/psalm_swinb_phi15_joint.py] [--overwrite]

The pickle is read with a restricted unpickler (numpy arrays only). OUT.pth ({'state_dict',
'meta'}) initialises every tensor of the backbone, pixel decoder and transformer decoder of the
config's model, or nothing is written; the LLM, projector, prompt encoder and classifier MLPs are
left to their own initialisation (meta['not_initialised']). Use it with strict=False semantics:
`load_from = 'OUT.pth'`, or `model.init_cfg = dict(type='Pretrained', checkpoint='OUT.pth')`
when the LLM comes from elsewhere.
"""
import argparse
import os.path as osp
import sys

from psalm.converters import ConversionError, convert_mask2former_d2

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_swinb_phi15_joint.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('pkl', help='detectron2 Mask2Former checkpoint (.pkl)')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='PSALM config whose model the weights must fit')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        meta = convert_mask2former_d2(args.pkl, args.out, args.config, overwrite=args.overwrite)
    except ConversionError as e:
        print(f'conversion refused, nothing written: {e}', file=sys.stderr)
        return 1
    for note in meta['notes']:
        print(note)
    print(f'zero biases (detectron2 has none): {meta["zero_filled"]}')
    print(f'source keys not used: {sorted(meta["ignored_source_keys"])}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
