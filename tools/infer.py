"""Draw a detector's boxes / masks or a segmenter's label map on images.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out-dir DIR]
        [--score-thr 0.3] [--device cpu] [--deploy]
    python tools/infer.py CONFIG FILE.onnx IMAGE ...   # the exported model, in ONNX Runtime
        [--backend openvino] [--precision bf16]        # (end-to-end files)

Thin over mmdet's DetInferencer and mmseg's MMSegInferencer (the config's test pipeline and
visualizer): the drawings go to DIR/vis/, and a line per image summarises the prediction.
Class names come from the checkpoint's meta (tools/model_converters/convert_checkpoint.py moves
a published checkpoint's names there).
"""
import argparse
import os.path as osp
import warnings
from typing import List

import numpy as np
import torch

from lsnet_dense.apis import build_model_from_config, deploy_model
from lsnet_dense.cli import add_trust_checkpoint_argument, exit_on_error, set_up_tool_process
from lsnet_dense.deploy import onnx_model_config
from lsnet_dense.deploy.backends import BACKENDS, PRECISIONS
from lsnet_dense.engine import load_config
from lsnet_dense.errors import PreflightError

TOP_CLASSES = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw predictions on images')
    parser.add_argument('config', help='mmdet / mmseg config file')
    parser.add_argument('checkpoint', help='trained (or converted) checkpoint, or a .onnx file '
                        'written by tools/deployment/export_onnx.py')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', default='outputs', help='drawings go to OUT_DIR/vis/')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw and count boxes scoring at least this')
    parser.add_argument('--opacity', type=float, default=0.6,
                        help='segmentation: opacity of the label overlay')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', choices=BACKENDS, default='onnxruntime',
                        help='runtime of an end-to-end .onnx file (export_onnx.py --end2end), '
                        'on the CPU; raw files run in ONNX Runtime')
    parser.add_argument('--precision', choices=PRECISIONS, default='f32',
                        help='bf16: OpenVINO on CPUs with BF16 instructions')
    parser.add_argument('--deploy', action='store_true', help='fold the backbone first')
    add_trust_checkpoint_argument(parser)
    return parser.parse_args(argv)


def check_inputs(args):
    load_config(args.config)  # a clear error for a missing file or another kind of config
    for path in [args.checkpoint] + args.images:
        if not osp.isfile(path):
            raise PreflightError(f'File not found: {path}')
    if args.checkpoint.endswith('.onnx'):
        if args.deploy:
            raise PreflightError('--deploy folds a PyTorch backbone; an exported ONNX file is '
                                 'folded already')
        # Checks that they match.
        onnx_model_config(load_config(args.config), args.checkpoint, backend=args.backend,
                          precision=args.precision)
        return
    # The inferencers load with strict=False: a checkpoint of another model would only warn.
    build_model_from_config(args.config, checkpoint=args.checkpoint)


def summarize_detection(sample, classes, score_thr) -> str:
    instances = sample.pred_instances
    keep = instances.scores >= score_thr
    counts = torch.bincount(instances.labels[keep], minlength=len(classes))
    found = [f'{classes[i]} x{int(counts[i])}' for i in counts.argsort(descending=True)
             if counts[i] > 0][:TOP_CLASSES]
    masks = ' with masks' if 'masks' in instances else ''
    return (f'{int(keep.sum())} objects with score >= {score_thr}{masks}'
            + (f': {", ".join(found)}' if found else ''))


def summarize_segmentation(sample, classes) -> str:
    labels = sample.pred_sem_seg.data.flatten()
    counts = torch.bincount(labels, minlength=len(classes))
    shares = counts.float() / labels.numel()
    top = [f'{classes[i]} {shares[i]:.0%}' for i in shares.argsort(descending=True)
           if counts[i] > 0][:TOP_CLASSES]
    return f'{int((counts > 0).sum())} classes; largest: {", ".join(top)}'


def run(args) -> List[str]:
    """Draw every image; returns the summary lines."""
    cfg = load_config(args.config)
    scope, model, weights, exported = cfg.default_scope, args.config, args.checkpoint, None
    if args.checkpoint.endswith('.onnx'):
        # The config's model running the file; the inferencer then loads no weights.
        exported = onnx_model_config(cfg, args.checkpoint, device=args.device,
                                     backend=args.backend, precision=args.precision)
        model, weights = cfg, None
    with warnings.catch_warnings():
        if exported:
            warnings.filterwarnings('ignore', message='.*(randomly initialized|weights is None)')
        if scope == 'mmdet':
            from lsnet_dense.apis.detection import DetInferencer
            inferencer = DetInferencer(model, weights, args.device, show_progress=False)
            call_options = dict(pred_score_thr=args.score_thr)
        else:
            from lsnet_dense.apis.segmentation import MMSegInferencer
            inferencer = MMSegInferencer(model, weights, device=args.device)
            call_options = dict(opacity=args.opacity)
    meta = inferencer.model.dataset_meta
    if exported and exported.get('classes'):
        meta['classes'] = tuple(exported['classes'])  # the checkpoint's meta, kept in the sidecar
    if scope == 'mmseg':
        if len(meta.get('palette') or []) != len(meta['classes']):
            # mmseg's visualizer would pair the classes with Cityscapes' 19 colours and fail.
            colours = np.random.default_rng(0).integers(0, 256, (len(meta['classes']), 3))
            meta['palette'] = colours.tolist()
    if args.deploy:
        deploy_model(inferencer.model)
    classes = inferencer.model.dataset_meta['classes']
    lines = []
    for image in args.images:
        result = inferencer(image, out_dir=args.out_dir, return_datasamples=True,
                            **call_options)
        # DetInferencer returns {'predictions': [sample]}; MMSegInferencer the sample itself.
        sample = result['predictions'] if isinstance(result, dict) else result
        sample = sample[0] if isinstance(sample, list) else sample
        summary = (summarize_detection(sample, classes, args.score_thr) if scope == 'mmdet'
                   else summarize_segmentation(sample, classes))
        drawing = osp.join(args.out_dir, 'vis', osp.basename(image))
        lines.append(f'{image}: {summary} -> {drawing}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process(args.trust_checkpoint)
    with exit_on_error():
        check_inputs(args)
    for line in run(args):
        print(line)


if __name__ == '__main__':
    main()
