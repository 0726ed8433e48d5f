"""Pascal VOC annotations (one xml file per image) as a COCO instances file.

VOC boxes are 1-based inclusive pixel indices (``xmin=1`` is the first column, ``xmax`` the
last one covered), COCO boxes are ``[x, y, width, height]`` in continuous coordinates from the
image's corner: ``x = xmin - 1``, ``width = xmax - xmin + 1``. Objects marked ``difficult`` become
``iscrowd=1``: mmdet's CocoDataset then ignores them in training and COCOeval in evaluation, as
VOC's own evaluation ignores them.
"""
import os.path as osp
import xml.etree.ElementTree as ElementTree
from collections import Counter
from typing import Dict, List, Optional, Sequence

from lsnet_dense.errors import PreflightError

from .checks import image_size


def _text(element, path: str, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None:
        raise PreflightError(f'{path}: no <{tag}> in <{element.tag}>')
    return child.text.strip()


def read_voc_annotation(path: str) -> dict:
    """One VOC xml file: ``filename``, ``width`` and ``height`` (0 when the file has no
    ``<size>``), and ``objects``, each ``(name, difficult, (xmin, ymin, xmax, ymax))``."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise PreflightError(f'{path}: not a readable xml file: {error}') from None
    size = root.find('size')
    width = int(float(_text(size, path, 'width'))) if size is not None else 0
    height = int(float(_text(size, path, 'height'))) if size is not None else 0
    objects = []
    for obj in root.iter('object'):
        box = obj.find('bndbox')
        if box is None:
            raise PreflightError(f'{path}: an <object> without <bndbox>')
        difficult = obj.find('difficult')
        objects.append((_text(obj, path, 'name'),
                        difficult is not None and (difficult.text or '0').strip() == '1',
                        tuple(float(_text(box, path, tag))
                              for tag in ('xmin', 'ymin', 'xmax', 'ymax'))))
    return dict(filename=_text(root, path, 'filename'), width=width, height=height,
                objects=objects)


def voc_box_to_coco(box: Sequence[float]) -> List[float]:
    """VOC's (xmin, ymin, xmax, ymax), 1-based inclusive, as COCO's [x, y, width, height]."""
    xmin, ymin, xmax, ymax = box
    return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]


def voc_to_coco(images_dir: str, annotations_dir: str, ids: Sequence[str],
                classes: Optional[Sequence[str]] = None) -> dict:
    """A COCO instances dict (with ``info`` and ``licenses``) of the VOC files
    ``annotations_dir/ID.xml``.

    Args:
        images_dir: the folder the xml files' ``filename`` entries are in (``JPEGImages``).
        annotations_dir: the folder of the xml files (``Annotations``).
        ids: the file stems to convert, in order (a split file's lines).
        classes: the class names, in the order of their category ids 1..N; by default the names
            found, sorted. With ``classes`` given, another name is an error.

    Raises:
        PreflightError: a missing xml or image file, an unreadable xml file, or an object of a
            class not in ``classes``, each naming the file.
    """
    records = []
    for image_id in ids:
        xml_path = osp.join(annotations_dir, f'{image_id}.xml')
        if not osp.isfile(xml_path):
            raise PreflightError(f'annotation file not found: {xml_path}')
        records.append((xml_path, read_voc_annotation(xml_path)))
    found = sorted({obj[0] for _, record in records for obj in record['objects']})
    classes = list(classes) if classes else found
    unknown = [name for name in found if name not in classes]
    if unknown:
        first = next(path for path, record in records
                     for obj in record['objects'] if obj[0] == unknown[0])
        raise PreflightError(f'{first}: class {unknown[0]!r} is not among --classes '
                             f'{classes} ({len(unknown)} unknown classes in all)')
    category_ids = {name: index + 1 for index, name in enumerate(classes)}
    images: List[Dict] = []
    annotations: List[Dict] = []
    for xml_path, record in records:
        image_path = osp.join(images_dir, record['filename'])
        if not osp.isfile(image_path):
            raise PreflightError(f'{xml_path}: its image {image_path} does not exist')
        try:
            width, height = image_size(image_path)
        except OSError as error:
            raise PreflightError(f'{xml_path}: its image {image_path} cannot be read: '
                                 f'{error}') from None
        if record['width'] and (record['width'], record['height']) != (width, height):
            # Seen with photos carrying an EXIF rotation that a labelling tool did not apply:
            # the boxes would then be in another frame than the image mmdet reads.
            raise PreflightError(
                f'{xml_path}: its <size> is {record["width"]}x{record["height"]} but the image '
                f'{image_path} is {width}x{height} as read (upright, after its EXIF '
                'orientation). Check the boxes against the upright image, then fix the size')
        images.append(dict(id=len(images) + 1, file_name=record['filename'], width=width,
                           height=height))
        for name, difficult, voc_box in record['objects']:
            box = voc_box_to_coco(voc_box)
            annotations.append(dict(id=len(annotations) + 1, image_id=images[-1]['id'],
                                    category_id=category_ids[name], bbox=box,
                                    area=box[2] * box[3], iscrowd=int(difficult)))
    return dict(info=dict(description=f'converted from Pascal VOC xml in {annotations_dir}'),
                licenses=[], images=images, annotations=annotations,
                categories=[dict(id=category_ids[name], name=name) for name in classes])


def class_counts(coco: dict) -> Counter:
    """Objects per class name of a COCO dict."""
    names = {category['id']: category['name'] for category in coco['categories']}
    return Counter(names[annotation['category_id']] for annotation in coco['annotations'])
