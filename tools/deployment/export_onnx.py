"""Export an LSNet detector / segmenter, or the bare backbone, to ONNX (torch's own exporter).

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx [--shape H W] \
        [--dynamic] [--end2end]
    python tools/deployment/export_onnx.py --backbone {t,s,b} [--checkpoint FILE] --shape H W \
        --out FILE.onnx

Writes FILE.onnx (Mask R-CNN also FILE.roi_bbox.onnx and FILE.roi_mask.onnx) and FILE.json, the
description a runtime needs. Then runs the files in ONNX Runtime and prints, per output, the
largest difference to PyTorch relative to the output's magnitude; above --tolerance (1e-4) it
exits non-zero.

With --end2end (RetinaNet, Mask R-CNN, Semantic FPN, UperNet) FILE.onnx is the whole
prediction: boxes, scores and labels (Mask R-CNN also 28x28 mask probabilities per detection,
pasted into the image by the runner), or the label map (lsnet_dense/deploy/end2end.py,
end2end_mask_rcnn.py); tools/deployment/onnx_infer.py runs it with no PyTorch. The check then
compares predictions with mmdet's / mmseg's on two example scenes: labels identical, boxes within
1e-3 px, scores within 1e-4, masks and label maps equal on at least 99.9% of the pixels.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

from lsnet_dense import LSNet
from lsnet_dense.cli import add_trust_checkpoint_argument, exit_on_error, set_up_tool_process
from lsnet_dense.deploy import TOLERANCE, export_backbone, export_model
from lsnet_dense.deploy.export_end2end import export_end2end
from lsnet_dense.errors import ExportMismatch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export to ONNX and check it in ONNX Runtime')
    parser.add_argument('config', nargs='?', help='mmdet / mmseg config file')
    parser.add_argument('checkpoint', nargs='?',
                        help='trained checkpoint of the config (omit: the config\'s own '
                        'initialisation, for trials)')
    parser.add_argument('--backbone', choices=sorted(LSNet.arch_settings),
                        help='export the bare LSNet backbone of this variant instead')
    parser.add_argument('--checkpoint', dest='backbone_checkpoint', metavar='FILE',
                        help='with --backbone: weights as init_cfg=dict(type="Pretrained") '
                        'takes them (published ImageNet, detector/segmenter or backbone file)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'),
                        help='input size of the file (with --dynamic: of the check only)')
    parser.add_argument('--dynamic', action='store_true',
                        help='any batch size, height and width (--end2end: any height and '
                        'width, batch 1)')
    parser.add_argument('--end2end', action='store_true',
                        help='one graph with the post-processing inside (boxes, scores, labels, '
                        'Mask R-CNN\'s mask probabilities, or the label map), for runtimes '
                        'without PyTorch')
    parser.add_argument('--tolerance', type=float, default=TOLERANCE,
                        help='largest relative ONNX Runtime vs PyTorch difference accepted')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    add_trust_checkpoint_argument(parser)
    args = parser.parse_args(argv)
    if bool(args.backbone) == bool(args.config):
        parser.error('give either CONFIG [CHECKPOINT] or --backbone')
    if args.backbone_checkpoint and not args.backbone:
        parser.error('--checkpoint goes with --backbone; a config takes CHECKPOINT positionally')
    if args.end2end and args.backbone:
        parser.error('--end2end exports a detector or segmenter; the bare backbone has no '
                     'post-processing')
    if not args.out.endswith('.onnx'):
        parser.error(f'--out must name a .onnx file, got {args.out}')
    return args


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process(args.trust_checkpoint)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    failed = None
    with exit_on_error():
        try:
            if args.end2end:
                report = export_end2end(args.config, args.checkpoint, args.out, args.shape,
                                        args.dynamic, args.cfg_options)
            elif args.backbone:
                report = export_backbone(args.backbone, args.out, args.shape,
                                         args.backbone_checkpoint, args.dynamic, args.tolerance)
            else:
                report = export_model(args.config, args.checkpoint, args.out, args.shape,
                                      args.dynamic, args.cfg_options, args.tolerance)
        except ExportMismatch as error:  # the differences are printed before the exit
            report, failed = error.report, error
    size = 'dynamic size' if args.dynamic else f'{args.shape[0]}x{args.shape[1]}'
    print(f'exported ({size}{", end-to-end" if args.end2end else ""}): '
          f'{", ".join(report.files)}')
    if args.end2end:
        print_predictions(report)
    else:
        print_differences(report, args)
    if failed:
        sys.exit(f'error: {failed}')


def print_predictions(report):
    print('ONNX Runtime vs PyTorch (mmdet / mmseg post-processing) on example scenes:')
    for example, figures in report.predictions.items():
        print(f'  {example}: ' + ', '.join(
            f'{name} {value:.0f}' if value.is_integer() and 'pixels' not in name
            else f'{name} {value:.3g}' for name, value in figures.items()))


def print_differences(report, args):
    print(f'ONNX Runtime vs PyTorch at {2 if args.dynamic else 1}x3x{args.shape[0]}x'
          f'{args.shape[1]} (RoI heads: '
          'random RoI features), max |ORT - PyTorch| / max |PyTorch| per output:')
    for path, differences in report.differences.items():
        for name, difference in differences.items():
            print(f'  {osp.basename(path)} {name:<20} {difference:.2e}')
    print(f'largest: {report.worst:.2e} (tolerance {args.tolerance:g})')


if __name__ == '__main__':
    main()
