"""Checks run by the tools before any model is built, so that a missing dataset or weight file
fails in a second with a message saying what to do, not deep inside a runner."""
import os.path as osp
from typing import Iterator, Optional, Sequence

from mmengine.config import Config

TASK_OF_SCOPE = {'mmdet': 'detection', 'mmseg': 'segmentation'}

DATASET_LAYOUTS = {
    'CocoDataset': (
        'COCO is expected as\n'
        '  data/coco/annotations/instances_train2017.json\n'
        '  data/coco/annotations/instances_val2017.json\n'
        '  data/coco/train2017/*.jpg\n'
        '  data/coco/val2017/*.jpg\n'
        'Download it from cocodataset.org, or link an existing copy: '
        'ln -s /path/to/coco data/coco. To try the toolkit without COCO, run `make demo`.'),
    'ADE20KDataset': (
        'ADE20K (ADEChallengeData2016) is expected as\n'
        '  data/ade/ADEChallengeData2016/images/{training,validation}/*.jpg\n'
        '  data/ade/ADEChallengeData2016/annotations/{training,validation}/*.png\n'
        'Download ADEChallengeData2016.zip from the MIT scene-parsing site and unzip it into '
        'data/ade, or link an existing copy. To try the toolkit without ADE20K, run '
        '`make demo-seg`.'),
}


class PreflightError(Exception):
    """A problem with the user's files or config, reported before anything is built."""


def load_config(path: str, cfg_options: Optional[dict] = None,
                scopes: Sequence[str] = tuple(TASK_OF_SCOPE)) -> Config:
    """Read a config, apply ``--cfg-options``, and check it is of a task the tool serves."""
    if not osp.isfile(path):
        raise PreflightError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in scopes:
        served = ', '.join(f'{TASK_OF_SCOPE.get(s, s)} (default_scope={s!r})' for s in scopes)
        raise PreflightError(f'{path} is not a config this tool serves: its default_scope is '
                             f'{scope!r}; expected {served}')
    return cfg


def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Dataset configs inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    if 'datasets' in dataset:
        for child in dataset['datasets']:
            yield from _leaf_datasets(child)
    elif 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def _resolve(data_root: str, path: str) -> str:
    return path if osp.isabs(path) or not data_root else osp.join(data_root, path)


def check_datasets(cfg: Config, splits: Sequence[str]):
    """Every annotation file and image/label folder the given splits' datasets need exists."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for dataset in _leaf_datasets(loader['dataset']):
            data_root = dataset.get('data_root') or ''
            needed = []
            if dataset.get('ann_file'):
                needed.append(('annotation file', _resolve(data_root, dataset['ann_file'])))
            for kind, folder in (dataset.get('data_prefix') or {}).items():
                needed.append((f'{kind} folder', _resolve(data_root, folder)))
            for what, path in needed:
                if not osp.exists(path):
                    layout = DATASET_LAYOUTS.get(dataset.get('type'), '')
                    raise PreflightError(
                        f'{split} data not found: the {what} {path!r} of '
                        f'{dataset.get("type", "the dataset")} does not exist.\n{layout}')


def check_pretrained(cfg: Config):
    """The backbone's pretrained file, and ``load_from``, exist when they are local paths."""
    backbone = cfg.model.get('backbone') or {}
    init_cfg = backbone.get('init_cfg') or {}
    path = init_cfg.get('checkpoint') if init_cfg.get('type') == 'Pretrained' else None
    if path and '://' not in path and not osp.isfile(path):
        raise PreflightError(
            f'Pretrained backbone file not found: {path}.\n'
            f'Put the published ImageNet checkpoint there (e.g. lsnet_t.pth from the LSNet '
            'release; tools/convert_checkpoint.py can check and convert it), or train from '
            'scratch with --cfg-options model.backbone.init_cfg=None')
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        raise PreflightError(f'load_from checkpoint not found: {load_from}')
