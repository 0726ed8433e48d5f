"""Checks run by the tools before any model is built, so that a missing dataset or weight file
fails in a second with a message saying what to do, not deep inside a runner."""
import glob
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Sequence, Set, Tuple

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


def leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Dataset configs inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    if 'datasets' in dataset:
        for child in dataset['datasets']:
            yield from leaf_datasets(child)
    elif 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def resolve_path(data_root: str, path: str) -> str:
    return path if osp.isabs(path) or not data_root else osp.join(data_root, path)


def check_datasets(cfg: Config, splits: Sequence[str], contents: bool = True):
    """Every annotation file and image/label folder the given splits' datasets need exists,
    and every evaluator's ``ann_file``. With ``contents``, the cheap part of
    ``tools/analysis_tools/check_dataset.py`` too: a sample of the label maps holds allowed
    values (:func:`check_label_maps`), a COCO json parses and fits the config's classes
    (:func:`check_coco_categories`) and has what mmdet's CocoMetric needs
    (:func:`check_evaluator`). Each COCO json is parsed once, however many checks read it.
    """
    try:
        for split in splits:
            loader = cfg.get(f'{split}_dataloader')
            if not loader:
                continue
            for dataset in leaf_datasets(loader['dataset']):
                check_dataset_files(dataset, split)
                if not contents:
                    continue
                if 'seg_map_path' in (dataset.get('data_prefix') or {}):
                    check_label_maps(dataset, split)
                elif str(dataset.get('ann_file', '')).endswith('.json'):
                    check_coco_categories(cfg, dataset, split)
            check_evaluator(cfg, split, contents)
    finally:
        # Parsed, COCO's train json takes gigabytes: not kept for the run that follows.
        _COCO_JSONS.clear()


def check_dataset_files(dataset: dict, split: str):
    """The annotation file and the data_prefix folders of a (leaf) dataset config exist."""
    data_root = dataset.get('data_root') or ''
    needed = []
    if dataset.get('ann_file'):
        needed.append(('annotation file', resolve_path(data_root, dataset['ann_file'])))
    for kind, folder in (dataset.get('data_prefix') or {}).items():
        needed.append((f'{kind} folder', resolve_path(data_root, folder)))
    for what, path in needed:
        if not osp.exists(path):
            layout = DATASET_LAYOUTS.get(dataset.get('type'), '')
            raise PreflightError(
                f'{split} data not found: the {what} {path!r} of '
                f'{dataset.get("type", "the dataset")} does not exist.\n{layout}')


def check_evaluator(cfg: Config, split: str, contents: bool = True):
    """The ``ann_file`` of each metric of the split's evaluator exists; with ``contents``, one
    for mmdet's plain ``CocoMetric`` has ``info``: pycocotools' ``loadRes`` copies it when
    scoring, so without it evaluation fails after training (the toolkit's
    ``ClasswiseCocoMetric`` fills it in)."""
    evaluator = cfg.get(f'{split}_evaluator') or []
    for metric in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]:
        ann_file = metric.get('ann_file')
        if not ann_file or '://' in str(ann_file):  # a storage backend's (s3://...): not read
            continue
        if not osp.isfile(ann_file):
            raise PreflightError(
                f'{split} evaluator: its ann_file {ann_file!r} does not exist. Set '
                f'{split}_evaluator.ann_file to the json of the {split} data (a data_root '
                'given with --cfg-options does not change the path the config wrote there)')
        scored = not metric.get('format_only')  # format_only writes results, no loadRes
        if contents and scored and str(metric.get('type', '')).split('.')[-1] == 'CocoMetric' \
                and 'info' not in read_coco_json(ann_file):
            raise PreflightError(
                f'{split} evaluator: {ann_file} has no "info" entry, which mmdet\'s CocoMetric '
                'needs (pycocotools copies it when scoring, after training). Add "info": {} to '
                "the file, or evaluate with the toolkit's ClasswiseCocoMetric "
                f'({split}_evaluator.type=ClasswiseCocoMetric), which fills it in')


# COCO jsons parsed by :func:`read_coco_json`, by real path, until check_datasets returns.
_COCO_JSONS: Dict[str, dict] = {}


def read_coco_json(path: str, annotated: bool = True) -> dict:
    """A COCO instances file, parsed (once while :func:`check_datasets` runs: the train and
    val datasets and the evaluator may name the same file, and COCO's train json is 450 MB)
    and checked to have ``images``, ``categories`` and, if ``annotated``, ``annotations``
    (which image-info files such as COCO's test-dev json lack)."""
    key = osp.realpath(path)
    if key not in _COCO_JSONS:
        try:
            with open(path) as f:
                _COCO_JSONS[key] = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PreflightError(f'{path} is not a readable COCO json file: {error}') from None
    coco = _COCO_JSONS[key]
    needed = ('images', 'categories') + (('annotations',) if annotated else ())
    missing = [entry for entry in needed if not isinstance(coco, dict) or entry not in coco]
    if missing:
        raise PreflightError(f'{path} is no COCO instances file: it has no '
                             f'{" / ".join(repr(entry) for entry in missing)} entry')
    return coco


def _head_class_counts(model: dict) -> List[Tuple[str, int]]:
    """(cfg key, value) of each ``num_classes`` of an mmdet model's heads (the stages of a
    cascade too)."""
    counts = []
    for key in ('bbox_head', 'roi_head.bbox_head', 'roi_head.mask_head'):
        head = model
        for part in key.split('.'):
            head = head.get(part) if isinstance(head, dict) else None
        stages = head if isinstance(head, (list, tuple)) else [head]
        for index, stage in enumerate(stages):
            if isinstance(stage, dict) and 'num_classes' in stage:
                where = f'{key}.{index}' if len(stages) > 1 else key
                counts.append((f'model.{where}.num_classes', stage['num_classes']))
    return counts


def check_coco_categories(cfg: Config, dataset: dict, split: str):
    """The COCO json of an mmdet dataset parses, names every class of the config's metainfo
    among its categories (mmdet would silently train without the others) and the model has as
    many classes as the metainfo (mmdet's default: COCO's 80)."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS

    dataset_type = DATASETS.get(dataset.get('type', 'CocoDataset'))
    if not (isinstance(dataset_type, type) and issubclass(dataset_type, CocoDataset)):
        return  # LVIS, Objects365 and other formats have their own rules
    path = resolve_path(dataset.get('data_root') or '', dataset['ann_file'])
    coco = read_coco_json(path, annotated=not dataset.get('test_mode'))
    metainfo = dataset.get('metainfo') or {}
    classes = metainfo.get('classes') or dataset_type.METAINFO['classes']
    names = [category.get('name') for category in coco['categories']]
    absent = [name for name in classes if name not in names]
    if absent:
        from lsnet_dense.datasets.checks import fold_name

        where = "the config's metainfo classes" if metainfo.get('classes') else \
            f'the classes of {dataset.get("type")} (none given in metainfo)'
        folded = {fold_name(name): name for name in names}
        shown = [repr(name) + (f' (the json has {folded[fold_name(name)]!r})'
                               if fold_name(name) in folded else '') for name in absent[:5]]
        raise PreflightError(
            f'{split} data: {len(absent)} of {where} are no category of {path}: '
            f'{", ".join(shown)}{" ..." if len(absent) > 5 else ""}. Its categories: '
            f'{", ".join(map(repr, names[:10]))}{" ..." if len(names) > 10 else ""}. '
            "Set the dataset's metainfo=dict(classes=(...)) to the category names to train on")
    check_num_classes(cfg, classes, split)


def check_num_classes(cfg: Config, classes: Sequence[str], split: str):
    """Each ``num_classes`` of an mmdet model's heads is the number of the dataset's classes."""
    for key, count in _head_class_counts(cfg.model):
        if count != len(classes):
            raise PreflightError(
                f'{split} data: the dataset has {len(classes)} classes but {key} is {count}; '
                f'set it (and any other num_classes of the heads) to {len(classes)}')


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
