"""Draw a dataset's ground truth as the model sees it: after the train pipeline (resized,
flipped, cropped), with the config's visualizer, as mmdet's and mmseg's browse_dataset do.

    python tools/misc/browse_dataset.py CONFIG --output-dir DIR [--split train|val|test] \
        [--max-images N] [--cfg-options ...]

One picture per sample goes to DIR, named after its image; boxes and masks (detection) or the
label map (segmentation) are drawn over the image in the classes' colours.
"""
import argparse
import os
import os.path as osp

import numpy as np
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

from lsnet_dense.cli import exit_on_error, set_up_tool_process
from lsnet_dense.engine import check_datasets, load_config
from lsnet_dense.errors import PreflightError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw the ground truth after the pipeline')
    parser.add_argument('config', help='mmdet or mmseg config file')
    parser.add_argument('--output-dir', required=True, help='where the pictures go')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help="whose dataloader's dataset and pipeline to draw (default: train)")
    parser.add_argument('--max-images', type=int, default=0,
                        help='draw the first N samples only (default: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def build_dataset_and_visualizer(cfg, split: str):
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import DATASETS, VISUALIZERS
    else:
        from mmseg.registry import DATASETS, VISUALIZERS
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise PreflightError(f'{cfg.filename} has no {split}_dataloader')
    dataset = DATASETS.build(loader.dataset)
    visualizer = VISUALIZERS.build(dict(cfg.visualizer, name='browse_dataset', vis_backends=[]))
    visualizer.dataset_meta = dataset.metainfo
    if cfg.default_scope == 'mmseg' and len(dataset.metainfo.get('palette') or []) != len(
            dataset.metainfo['classes']):
        # mmseg's visualizer would pair the classes with Cityscapes' 19 colours and fail.
        colours = np.random.default_rng(0).integers(0, 256, (len(dataset.metainfo['classes']), 3))
        visualizer.dataset_meta = dict(dataset.metainfo, palette=colours.tolist())
    return dataset, visualizer


def plain_instances(instances):
    """The packed boxes and masks as the arrays mmdet's visualizer draws (it takes neither
    box objects nor bitmap / polygon masks)."""
    from mmdet.structures.bbox import BaseBoxes
    from mmdet.structures.mask import BaseInstanceMasks

    if isinstance(instances.get('bboxes'), BaseBoxes):
        instances.bboxes = instances.bboxes.tensor
    if isinstance(instances.get('masks'), BaseInstanceMasks):
        instances.masks = instances.masks.to_ndarray().astype(bool)


def draw(cfg, split: str, output_dir: str, max_images: int = 0) -> int:
    """Draw the samples into ``output_dir``; returns how many."""
    dataset, visualizer = build_dataset_and_visualizer(cfg, split)
    os.makedirs(output_dir, exist_ok=True)
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    for index in range(count):
        sample = dataset[index]
        data_sample = sample['data_samples']
        if 'gt_instances' in data_sample:
            plain_instances(data_sample.gt_instances)
        # Packed inputs are CHW in the pipeline's BGR; the visualizer draws on RGB.
        image = np.ascontiguousarray(sample['inputs'].permute(1, 2, 0).numpy()[..., ::-1])
        name = osp.basename(data_sample.img_path)
        visualizer.add_datasample(name, image, data_sample.cpu(), draw_pred=False, show=False,
                                  out_file=osp.join(output_dir, f'{index:05d}_{name}'))
    return count


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    with exit_on_error():
        cfg = load_config(args.config, args.cfg_options)
        check_datasets(cfg, [args.split])
        count = draw(cfg, args.split, args.output_dir, args.max_images)
    print(f'{count} samples of the {args.split} split drawn into {args.output_dir}')


if __name__ == '__main__':
    main()
