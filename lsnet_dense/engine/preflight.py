"""Checks run by the tools before any model is built, so that a missing dataset or weight file
fails in a second with a message saying what to do, not deep inside a runner."""
import glob
import os
import os.path as osp
from typing import Iterator, Sequence, Set, Tuple

import mmcv
import numpy as np
from mmengine import fileio
from mmengine.config import Config

from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.checkpoints.conversion import is_published_dense
from lsnet_dense.checkpoints.download import is_url
from lsnet_dense.errors import PreflightError, UntrustedCheckpointError

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
    'DemoADE20KDataset': (
        'The demo scenes are expected as\n'
        '  data/demo_ade20k/images/{training,validation}/*.jpg\n'
        '  data/demo_ade20k/annotations/{training,validation}/*.png\n'
        'Generate them with `python tools/demo_seg.py --data-only` (or run `make demo-seg`).'),
}
# Label maps read per segmentation dataset: enough to catch a wrong dataset or class count in
# well under a second, few enough not to slow down a start on ADE20K's 20k maps.
LABEL_MAPS_CHECKED = 20


def latest_checkpoint(work_dir: str) -> str:
    """The checkpoint ``--resume`` continues from: the one ``WORK_DIR/last_checkpoint`` names.

    mmengine starts from scratch when there is none; asked to resume, the tools refuse instead.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        raise PreflightError(
            f'--resume: nothing to resume in {work_dir} (no last_checkpoint file: no checkpoint '
            'was saved there). Start without --resume, give the work dir of the run to continue '
            '(--work-dir), or a checkpoint: --resume PATH')
    with open(record) as f:
        path = f.read().strip()
    if not osp.isfile(path):
        found = sorted(glob.glob(osp.join(work_dir, '*.pth')))
        raise PreflightError(
            f'--resume: {record} names {path!r}, which does not exist (with max_keep_ckpts=1 '
            'mmengine deletes the previous checkpoint before writing the next one). '
            + (f'Checkpoints in {work_dir}: {", ".join(found)}; resume from one with '
               '--resume PATH' if found else f'There is no checkpoint in {work_dir}'))
    check_checkpoint(path, '--resume')
    return path


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
            if 'seg_map_path' in (dataset.get('data_prefix') or {}):
                check_label_maps(dataset, split)


def check_label_maps(dataset_cfg: dict, split: str, max_files: int = LABEL_MAPS_CHECKED):
    """Label maps of an mmseg dataset exist and hold only values its classes allow.

    Reads ``max_files`` maps spread evenly over the dataset (see :func:`_allowed_labels`).
    """
    from mmseg.registry import DATASETS  # only segmentation configs get here

    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[], lazy_init=True))
    name = type(dataset).__name__
    data_list = dataset.load_data_list()
    if not data_list:
        raise PreflightError(f'{split} data: {name} found no *{dataset.img_suffix} images in '
                             f'{dataset.data_prefix["img_path"]!r}.\n'
                             f'{DATASET_LAYOUTS.get(name, "")}')
    allowed, rule = _allowed_labels(dataset)
    step = max(1, len(data_list) // max_files)
    for info in data_list[::step][:max_files]:
        path = info['seg_map_path']
        if not fileio.exists(path):
            raise PreflightError(f'{split} data: the label map {path!r} of the image '
                                 f'{info["img_path"]!r} does not exist')
        label = mmcv.imfrombytes(fileio.get(path), flag='unchanged', backend='pillow')
        if label.ndim != 2:
            raise PreflightError(f'{split} data: the label map {path!r} has shape {label.shape}; '
                                 f'{name} needs single-channel maps of class indices')
        bad = sorted(set(np.unique(label).tolist()) - allowed)
        if bad:
            raise PreflightError(
                f'{split} data: the label map {path!r} holds the value'
                f'{"s" if len(bad) > 1 else ""} {", ".join(map(str, bad))}, but {name} has '
                f'{rule}. Is this the dataset the config was written for, or does the config '
                'need more classes (metainfo classes and decode_head.num_classes)?')


def _allowed_labels(dataset) -> Tuple[Set[int], str]:
    """The raw label-map values an mmseg dataset accepts, and the rule in words.

    With ``reduce_zero_label`` (ADE20K) they are 0 (ignored), 1..N and 255 (ignored); otherwise
    0..N-1 and the dataset's ``ignore_index``. N counts the classes the raw values index: the
    dataset type's own when the config selects a subset of them (mmseg then remaps the labels),
    else the dataset's.
    """
    classes = (type(dataset).METAINFO if dataset.label_map else dataset.metainfo)['classes']
    count = len(classes)
    if dataset.reduce_zero_label:
        return ({0, 255} | set(range(1, count + 1)),
                f'{count} classes, so labels must be 1..{count} (0 and 255 are ignored: '
                'reduce_zero_label=True)')
    return ({dataset.ignore_index} | set(range(count)),
            f'{count} classes, so labels must be 0..{count - 1} ({dataset.ignore_index} is '
            'ignored)')


def _downloads_here(cfg: Config) -> bool:
    """Whether this process fetches URLs in the pre-flight checks: the first process of each
    machine. The others reach the weights after the process group has formed, by which time
    the first has put them in the machine's cache."""
    local_rank = os.environ.get('SLURM_LOCALID') if cfg.get('launcher') == 'slurm' else \
        os.environ.get('LOCAL_RANK')
    return int(local_rank or 0) == 0


def check_pretrained(cfg: Config):
    """The backbone's pretrained file, and ``load_from``, are checkpoints the toolkit loads
    (:func:`check_checkpoint`): local files exist, URLs are downloaded into the cache now.

    The file is named by ``backbone.init_cfg``, or in mmseg's deprecated way by ``pretrained``
    (of the model, which mmseg hands to the backbone, or of the backbone).
    """
    backbone = cfg.model.get('backbone') or {}
    init_cfg = backbone.get('init_cfg') or {}
    candidates = [('model.backbone.init_cfg=None',
                   init_cfg.get('checkpoint') if init_cfg.get('type') == 'Pretrained' else None),
                  ('model.pretrained=None', cfg.model.get('pretrained')),
                  ('model.backbone.pretrained=None', backbone.get('pretrained'))]
    for option, path in candidates:
        if not path or (is_url(path) and not _downloads_here(cfg)):
            continue
        if not is_url(path) and not osp.isfile(path):
            raise PreflightError(
                f'Pretrained backbone file not found: {path}.\n'
                'The configs name the published ImageNet checkpoint by URL (downloaded on first '
                'use); put a local copy there (tools/model_converters/convert_checkpoint.py can '
                f'check and convert it), or train from scratch with --cfg-options {option}')
        check_checkpoint(path, 'pretrained backbone file')
    load_from = cfg.get('load_from')
    if load_from and not cfg.get('resume') and (not is_url(load_from) or _downloads_here(cfg)):
        if not is_url(load_from) and not osp.isfile(load_from):
            raise PreflightError(f'load_from checkpoint not found: {load_from}')
        check_checkpoint(load_from, 'load_from')  # --resume checked its own


def check_checkpoint(path: str, role: str = 'checkpoint'):
    """``path``, a file or URL, is a readable checkpoint (not missing, truncated or of another
    format); a URL is downloaded into the cache. For ``--resume``, it is a training state.

    Reading it once here costs a second or two and turns a deep unpickling traceback into a
    message naming the file.
    """
    try:
        checkpoint = load_checkpoint_file(path)
    except UntrustedCheckpointError as error:
        raise UntrustedCheckpointError(f'{role}: {error}') from None
    except (FileNotFoundError, ValueError, ConnectionError) as error:
        raise PreflightError(f'{role}: {error}') from None
    if role == '--resume' and 'message_hub' not in checkpoint:
        published = ' (a published mmdet 2.x / mmseg 0.x file)' if is_published_dense(
            checkpoint) else ''
        raise PreflightError(
            f'--resume: {path} is no training state of tools/train.py{published}: it lacks the '
            'message hub (iteration, logs) a run continues from. To start a new run from its '
            f'weights: --cfg-options load_from={path}')
