"""A dataset read once, annotation by annotation and image header by image header, for what
would make training fail late or learn the wrong thing (``tools/analysis_tools/check_dataset.py``).

Detection: the COCO json of an mmdet ``CocoDataset`` (and subclasses), or the VOC xml files of
an ``XMLDataset`` / ``VOCDataset``. Segmentation: the images and label maps of an mmseg dataset
(``BaseSegDataset`` and its subclasses). Images are opened for their header (size, EXIF
orientation) and their last bytes (a JPEG or PNG cut short lacks its end marker); only a file
whose end marker is missing, or of another format, is decoded.
"""
import os.path as osp
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from lsnet_dense.errors import PreflightError

EXIF_ORIENTATION = 0x0112
SIDEWAYS_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
# The last bytes of a complete file; some writers pad after them, so the tail is searched.
END_MARKERS = {'JPEG': b'\xff\xd9', 'MPO': b'\xff\xd9', 'PNG': b'IEND\xaeB`\x82'}
TAIL_BYTES = 64
BOX_TOLERANCE = 1.0  # pixels a box may reach past the border (COCO's own boxes do)
EXAMPLES_SHOWN = 5


@dataclass
class DatasetReport:
    """What :func:`check_detection_dataset` / :func:`check_seg_dataset` found: counts, and
    problems by kind, each a list of examples naming the file."""

    title: str
    classes: Sequence[str]
    images: int = 0
    objects: int = 0
    ignored: int = 0
    class_counts: Counter = field(default_factory=Counter)
    counts_heading: str = 'objects per class'
    errors: Dict[str, List[str]] = field(default_factory=lambda: defaultdict(list))
    warnings: Dict[str, List[str]] = field(default_factory=lambda: defaultdict(list))

    def format(self) -> str:
        """The report as printed: counts per class, then warnings and errors by kind with the
        first :data:`EXAMPLES_SHOWN` examples."""
        counts = [f'{self.images} images']
        if self.objects:
            counts.append(f'{self.objects} objects' + (
                f' ({self.ignored} ignored: iscrowd or difficult)' if self.ignored else ''))
        lines = [self.title, f'  {", ".join(counts)}', f'  {self.counts_heading}:']
        width = max(map(len, self.classes), default=0)
        lines += [f'    {name:<{width}}  {self.class_counts[name]}' for name in self.classes]
        for heading, found in (('warnings', self.warnings), ('errors', self.errors)):
            total = sum(len(items) for items in found.values())
            if total:
                lines.append(f'  {heading} ({total}):')
            for kind, items in found.items():
                lines.append(f'    {kind} ({len(items)}): ' + '; '.join(items[:EXAMPLES_SHOWN])
                             + (' ...' if len(items) > EXAMPLES_SHOWN else ''))
        return '\n'.join(lines)


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image as mmcv reads it (EXIF orientation applied), from its
    header; the pixels are decoded only when the file lacks its format's end marker.

    Raises:
        OSError: unreadable or truncated file, with the reason.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            if not _ends_complete(path, END_MARKERS.get(image.format)):
                image.load()  # raises on a file cut short
    except UnidentifiedImageError:
        raise OSError('not an image file PIL can read') from None
    except (SyntaxError, ValueError) as error:  # what PIL raises for broken headers
        raise OSError(str(error)) from None
    return (height, width) if orientation in SIDEWAYS_ORIENTATIONS else (width, height)


def _ends_complete(path: str, marker: Optional[bytes]) -> bool:
    if marker is None:
        return False
    with open(path, 'rb') as f:
        f.seek(max(0, osp.getsize(path) - TAIL_BYTES))
        return marker in f.read()


def _read_image(report: DatasetReport, path: str) -> Optional[Tuple[int, int]]:
    """The upright size, or None after recording why the image cannot be read."""
    if not osp.isfile(path):
        report.errors['missing images'].append(path)
        return None
    try:
        return image_size(path)
    except OSError as error:
        report.errors['unreadable or truncated images'].append(f'{path} ({error})')
        return None


class Box(NamedTuple):
    """An annotated object: ``where`` names it in the report, ``bbox`` is COCO's
    [x, y, w, h] in pixels."""
    where: str
    name: str
    bbox: Sequence[float]
    ignored: bool = False
    area: Optional[float] = None


class AnnotatedImage(NamedTuple):
    """An image as the annotations describe it; ``size`` (width, height) is None where they
    give none."""
    name: str
    path: str
    size: Optional[Tuple[int, int]]
    boxes: List[Box]


def coco_images(coco: dict, image_dir: str, report: DatasetReport) -> List[AnnotatedImage]:
    """The images of a COCO instances dict, recording annotations that name no image or
    category, or have no [x, y, w, h] box."""
    names = {category.get('id'): category.get('name') for category in coco['categories']}
    by_image = defaultdict(list)
    for annotation in coco.get('annotations', []):  # none in image-info files (test-dev)
        by_image[annotation.get('image_id')].append(annotation)
    images = []
    for image in coco['images']:
        boxes = []
        for annotation in by_image.pop(image.get('id'), []):
            where = f'{image.get("file_name")} annotation {annotation.get("id")}'
            bbox = annotation.get('bbox')
            if annotation.get('category_id') not in names:
                report.errors['category ids absent from the categories'].append(
                    f'{where}: category_id {annotation.get("category_id")}')
            elif not (isinstance(bbox, list) and len(bbox) == 4):
                report.errors['annotations without an [x, y, w, h] bbox'].append(
                    f'{where}: {bbox!r}')
            else:
                boxes.append(Box(where, names[annotation['category_id']], bbox,
                                 bool(annotation.get('iscrowd')), annotation.get('area')))
        size = (image.get('width'), image.get('height'))
        images.append(AnnotatedImage(image.get('file_name'),
                                     osp.join(image_dir, str(image.get('file_name'))),
                                     size if None not in size else None, boxes))
    for image_id, annotations in by_image.items():
        report.errors['annotations of no image in "images"'] += [
            f'annotation {annotation.get("id")} (image_id {image_id})'
            for annotation in annotations]
    return images


def voc_images(dataset, report: DatasetReport) -> List[AnnotatedImage]:
    """The images of an mmdet ``XMLDataset`` (built with ``lazy_init``), found as its
    ``load_data_list`` finds them: ``IMG_SUBDIR/ID.jpg`` and ``ANN_SUBDIR/ID.xml`` for each ID
    of the split file. Boxes in COCO's frame (see :mod:`lsnet_dense.datasets.voc_to_coco`)."""
    from mmengine.fileio import list_from_file

    from lsnet_dense.datasets.voc_to_coco import read_voc_annotation, voc_box_to_coco

    images = []
    for image_id in list_from_file(dataset.ann_file):
        xml_path = osp.join(dataset.sub_data_root, dataset.ann_subdir, f'{image_id}.xml')
        if not osp.isfile(xml_path):
            report.errors['missing xml files'].append(xml_path)
            continue
        try:
            record = read_voc_annotation(xml_path)
        except PreflightError as error:
            report.errors['unreadable xml files'].append(str(error))
            continue
        boxes = [Box(f'{xml_path} object {index}', name, voc_box_to_coco(box), difficult)
                 for index, (name, difficult, box) in enumerate(record['objects'], start=1)]
        file_name = osp.join(dataset.img_subdir, f'{image_id}.jpg')
        images.append(AnnotatedImage(
            file_name, osp.join(dataset.sub_data_root, file_name),
            (record['width'], record['height']) if record['width'] else None, boxes))
    return images


def fold_name(name: str) -> str:
    """A class name with letter case, underscores, hyphens and repeated spaces folded away:
    equal for ``'Traffic_Sign'`` and ``'traffic sign'``."""
    return ' '.join(str(name).casefold().replace('_', ' ').replace('-', ' ').split())


def check_detection_dataset(report: DatasetReport, images: Sequence[AnnotatedImage],
                            filter_cfg: Optional[dict] = None) -> DatasetReport:
    """Check each image (readable, of its annotated upright size) and box (of a class of the
    report's, with area, inside the image), counting objects per class.

    ``filter_cfg``: the dataset's, for a training split (mmdet filters only there); it says
    which images mmdet leaves out: without objects (``filter_empty_gt``), smaller than
    ``min_size``.
    """
    filter_cfg = filter_cfg or {}
    near_names = {fold_name(name): name for name in report.classes}
    for image in images:
        report.images += 1
        size = _read_image(report, image.path)
        if size is not None and image.size is not None and size != tuple(image.size):
            report.errors['annotated sizes that disagree with the image'].append(
                f'{image.name}: {image.size[0]}x{image.size[1]} annotated, {size[0]}x{size[1]} '
                'as read (EXIF orientation applied)')
        width, height = size or image.size or (None, None)
        trained = [box for box in image.boxes if box.name in report.classes]
        for box in image.boxes:
            if box.name in report.classes:
                continue
            near = near_names.get(fold_name(box.name))
            if near:  # a typo, not a class left out on purpose: mmdet would drop it silently
                report.errors["class names that differ from one of the config's classes only "
                              'in case, spaces or underscores'].append(
                    f'{box.where}: {box.name!r}, not {near!r}')
            else:
                report.warnings["objects of categories not among the config's classes "
                                '(left out)'].append(f'{box.where}: {box.name!r}')
        for box in trained:
            x, y, w, h = box.bbox
            if w < 1 or h < 1 or (box.area is not None and box.area <= 0):
                # mmdet drops these when loading the annotations
                report.errors['boxes without area (under 1 pixel)'].append(
                    f'{box.where}: {list(box.bbox)}')
                continue
            if width is not None and (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE
                                      or x + w > width + BOX_TOLERANCE
                                      or y + h > height + BOX_TOLERANCE):
                report.errors['boxes outside the image'].append(
                    f'{box.where}: {list(box.bbox)} in a {width}x{height} image')
            report.class_counts[box.name] += 1
            report.objects += 1
            report.ignored += box.ignored
        if not trained:
            left_out = ' (left out of training)' if filter_cfg.get('filter_empty_gt') else ''
            report.warnings[f'images without objects{left_out}'].append(image.name)
        if width is not None and min(width, height) < filter_cfg.get('min_size', 0):
            report.warnings[f'images under min_size={filter_cfg["min_size"]} (left out of '
                            'training)'].append(f'{image.name}: {width}x{height}')
    return report


def check_seg_dataset(dataset, title: str) -> DatasetReport:
    """Check every image and label map of an mmseg dataset (built with ``lazy_init``): both
    readable, of the same size, labels among the classes or ignored (see
    :func:`lsnet_dense.engine.preflight._allowed_labels`)."""
    from lsnet_dense.engine.preflight import _allowed_labels

    report = DatasetReport(title, dataset.metainfo['classes'],
                           counts_heading='images holding each class')
    allowed, rule = _allowed_labels(dataset)
    for info in dataset.load_data_list():
        report.images += 1
        image = _read_image(report, info['img_path'])
        label_path = info['seg_map_path']
        if not osp.isfile(label_path):
            report.errors['missing label maps'].append(label_path)
            continue
        try:
            with Image.open(label_path) as picture:
                label = np.asarray(picture)
        except (OSError, SyntaxError, ValueError) as error:
            report.errors['unreadable or truncated label maps'].append(f'{label_path} ({error})')
            continue
        if label.ndim != 2:
            report.errors['label maps that are not single-channel'].append(
                f'{label_path}: shape {label.shape}')
            continue
        if image is not None and image != (label.shape[1], label.shape[0]):
            report.errors['label maps of another size than their image'].append(
                f'{label_path}: {label.shape[1]}x{label.shape[0]}, the image {image[0]}x'
                f'{image[1]}')
        values = set(np.unique(label).tolist())
        bad = sorted(values - allowed)
        if bad:
            report.errors[f'label values outside the classes ({rule})'].append(
                f'{label_path}: {", ".join(map(str, bad))}')
        present = [report.classes[index] for index in _class_indices(dataset, values - set(bad))]
        report.class_counts.update(present)
        if not present:
            report.warnings['label maps without any class'].append(label_path)
    return report


def _class_indices(dataset, values):
    """The class indices the raw label values stand for (``reduce_zero_label``: value - 1)."""
    count = len(dataset.metainfo['classes'])
    shift = 1 if dataset.reduce_zero_label else 0
    indices = [value - shift for value in values if value != dataset.ignore_index]
    if dataset.label_map:
        indices = [dataset.label_map.get(index, dataset.ignore_index) for index in indices]
    return sorted(index for index in indices if 0 <= index < count)


def check_dataset_config(cfg, dataset: dict, split: str) -> DatasetReport:
    """The report of a (leaf) dataset config of ``cfg``: an mmdet ``CocoDataset`` or
    ``XMLDataset``, or an mmseg dataset. The pre-flight checks of ``tools/train.py`` on it
    (classes, ``num_classes``) are among its errors.

    Raises:
        PreflightError: a dataset type the checker does not read, or an unreadable json.
    """
    from lsnet_dense.engine.preflight import (check_coco_categories, check_num_classes,
                                              read_coco_json, resolve_path)

    if cfg.default_scope == 'mmseg':
        from mmseg.registry import DATASETS

        built = DATASETS.build(dict(dataset, pipeline=[], lazy_init=True))
        return check_seg_dataset(built, f'{split}: {type(built).__name__} '
                                 f'{built.data_prefix["img_path"]}')
    from mmdet.datasets import CocoDataset, XMLDataset
    from mmdet.registry import DATASETS

    dataset_type = DATASETS.get(dataset.get('type', 'CocoDataset'))
    classes = (dataset.get('metainfo') or {}).get('classes') or \
        getattr(dataset_type, 'METAINFO', {}).get('classes', ())
    filter_cfg = None if dataset.get('test_mode') else dataset.get('filter_cfg')
    if isinstance(dataset_type, type) and issubclass(dataset_type, CocoDataset):
        data_root = dataset.get('data_root') or ''
        ann_file = resolve_path(data_root, dataset['ann_file'])
        coco = read_coco_json(ann_file, annotated=not dataset.get('test_mode'))  # or stop
        report = DatasetReport(f'{split}: {dataset.get("type")} {ann_file}', classes)
        try:
            check_coco_categories(cfg, dataset, split)
        except PreflightError as error:
            report.errors['config'].append(str(error))
        image_dir = resolve_path(data_root, (dataset.get('data_prefix') or {}).get('img', ''))
        images = coco_images(coco, image_dir, report)
    elif isinstance(dataset_type, type) and issubclass(dataset_type, XMLDataset):
        built = DATASETS.build(dict(dataset, pipeline=[], lazy_init=True))
        report = DatasetReport(f'{split}: {dataset.get("type")} {built.ann_file}', classes)
        try:
            check_num_classes(cfg, classes, split)
        except PreflightError as error:
            report.errors['config'].append(str(error))
        images = voc_images(built, report)
    else:
        raise PreflightError(
            f'{split} data: the checker reads the COCO json of CocoDataset, the VOC xml of '
            f'XMLDataset / VOCDataset (and their subclasses), not {dataset.get("type")}')
    return check_detection_dataset(report, images, filter_cfg)
