"""Check a config's dataset before training on it: every annotation and every image header read
once.

    python tools/analysis_tools/check_dataset.py CONFIG [--split train val test] \
        [--cfg-options ...]

Detection configs with a COCO json (CocoDataset) or VOC xml files (XMLDataset, VOCDataset);
segmentation configs with mmseg datasets. Reports images missing, unreadable or truncated,
annotated sizes that disagree with the images (EXIF rotation applied, as mmcv reads them),
boxes outside their image or without area, category ids absent from the categories, objects of
categories the config leaves out, label values outside the classes and the ignore index, label
maps of another size than their image, class counts and images without objects; and what
``tools/train.py`` would refuse (classes, ``num_classes``, the evaluator's ``ann_file``).
Exits with status 1 when there are errors (warnings alone pass), naming the first few of each
kind.
"""
import argparse
import sys

from mmengine.config import DictAction
from mmengine.registry import init_default_scope

from lsnet_dense.cli import exit_on_error, set_up_tool_process
from lsnet_dense.datasets.checks import check_dataset_config
from lsnet_dense.engine import check_datasets, load_config
from lsnet_dense.engine.preflight import check_evaluator, leaf_datasets
from lsnet_dense.errors import PreflightError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Check a config's dataset")
    parser.add_argument('config', help='mmdet or mmseg config file')
    parser.add_argument('--split', nargs='+', choices=['train', 'val', 'test'],
                        default=['train', 'val'], help='the dataloaders to check '
                        '(default: train val)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'train_dataloader.dataset.data_root=data/my_coco/')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    failed = False
    with exit_on_error():
        cfg = load_config(args.config, args.cfg_options)
        init_default_scope(cfg.default_scope)
        check_datasets(cfg, args.split, contents=False)  # the files and folders exist
        for split in args.split:
            loader = cfg.get(f'{split}_dataloader')
            if not loader:
                print(f'{split}: no {split}_dataloader in the config')
                continue
            for dataset in leaf_datasets(loader['dataset']):
                report = check_dataset_config(cfg, dataset, split)
                print(report.format())
                failed = failed or bool(report.errors)
            try:
                check_evaluator(cfg, split)
            except PreflightError as error:
                print(f'error: {error}')
                failed = True
    if failed:
        sys.exit('error: the dataset has errors (listed above)')
    print('no errors')


if __name__ == '__main__':
    main()
