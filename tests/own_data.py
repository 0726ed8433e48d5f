"""Small datasets shaped like a user's photographs, in the three forms the README's recipes take:
a COCO json, Pascal VOC xml folders, and images plus PNG label maps. Tests import it as
``from own_data import ...`` (tests/ is on sys.path, see conftest.py).

What real data has and the demo data lacks: many sizes and aspect ratios, portrait and
landscape, with sides that are no multiples of 32 or 64; JPEGs stored sideways with an EXIF
orientation (6 and 8; their annotations in the upright frame mmcv reads); grayscale and RGBA
PNGs, a grayscale and a CMYK JPEG; an image without objects; class names with spaces; COCO
category ids that are neither 0-based nor contiguous (1, 3, 7).

Layouts (``root`` is the folder given):

* :func:`write_coco_dataset`: ``root/images/{split}/photo NNN.{jpg,png}`` and
  ``root/annotations/{split}.json`` (COCO instances; no ``info`` / ``licenses`` by default).
* :func:`write_voc_dataset`: ``root/JPEGImages/{split}_NNN.jpg``,
  ``root/Annotations/{split}_NNN.xml``, ``root/ImageSets/Main/{train,val}.txt``.
* :func:`write_seg_dataset`: ``root/images/{split}/scene NNN.jpg`` and
  ``root/labels/{split}/scene NNN.png`` (uint8 label maps, 0 = void, 1..3 =
  :data:`SEG_CLASSES`).

``break_*_dataset`` spoil a written dataset in place, one problem of each kind, and return
where; :func:`truncate` cuts an image file short.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

CLASSES = ('red car', 'traffic sign', 'person')
CATEGORY_IDS = (1, 3, 7)
COLOURS = {'red car': (200, 30, 30), 'traffic sign': (240, 200, 20), 'person': (40, 60, 200)}
SEG_CLASSES = ('sky', 'road surface', 'tree')
# (width, height, how the file is stored) of the images of a split, in order.
IMAGES = {
    'train': [(213, 160, 'jpg'), (150, 223, 'jpg'), (97, 131, 'png_gray'), (301, 190, 'jpg_exif'),
              (180, 140, 'png_rgba'), (160, 200, 'jpg_cmyk'), (240, 150, 'jpg'),
              (130, 170, 'jpg_empty'), (200, 117, 'jpg'), (143, 143, 'jpg')],
    'val': [(190, 150, 'jpg'), (121, 181, 'jpg_exif8'), (170, 133, 'png_gray'),
            (150, 110, 'jpg_empty'), (223, 97, 'jpg')],
}
EXIF_ORIENTATION = 0x0112
# How the sideways JPEGs are stored: the upright image turned by PIL's ``transpose`` op, tagged
# with the EXIF orientation that tells viewers (and OpenCV, and mmcv) to turn it back.
# Orientation 6: turn 90 degrees clockwise to display; 8: counter-clockwise.
SIDEWAYS = {'jpg_exif': (Image.Transpose.ROTATE_90, 6),
            'jpg_exif8': (Image.Transpose.ROTATE_270, 8)}
# What the PNG kinds become where a layout takes JPEGs only (VOC's JPEGImages, the seg images).
AS_JPEG = {'png_gray': 'jpg_gray', 'png_rgba': 'jpg'}


# Cars are rectangles, signs and people ellipses filling their box: shapes and colours a
# detector can learn something of in an epoch.
ELLIPSES = ('traffic sign', 'person')


def outline(name: str, bbox: Sequence[int]) -> List[float]:
    """The object's outline as a COCO polygon [x1, y1, x2, y2, ...]."""
    x, y, w, h = bbox
    if name not in ELLIPSES:
        return [x, y, x + w, y, x + w, y + h, x, y + h]
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    points = np.stack([x + w / 2 * (1 + np.cos(angles)), y + h / 2 * (1 + np.sin(angles))], 1)
    return [round(float(v), 1) for v in points.ravel()]


def _photo(width: int, height: int, rng: np.random.Generator, objects: int
           ) -> Tuple[np.ndarray, List[Tuple[str, List[int]]]]:
    """An upright RGB image, a noisy gradient with ``objects`` shapes of their class's colour;
    returns it and its objects as (class name, [x, y, w, h]) in pixels."""
    gradient = np.linspace(60, 160, width)[None, :, None] + np.linspace(0, 40, height)[:, None,
                                                                                      None]
    image = np.clip(gradient + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    boxes = []
    for index in range(objects):
        name = CLASSES[(index + int(rng.integers(3))) % len(CLASSES)]
        w = int(rng.integers(width // 6, width // 3))
        h = int(rng.integers(height // 6, height // 3))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        inside = np.ones((h, w), bool)
        if name in ELLIPSES:
            rows, cols = np.ogrid[:h, :w]
            inside = ((cols + 0.5 - w / 2) / (w / 2)) ** 2 + \
                ((rows + 0.5 - h / 2) / (h / 2)) ** 2 <= 1
        image[y:y + h, x:x + w][inside] = COLOURS[name]
        boxes.append((name, [x, y, w, h]))
    return image, boxes


def _save(image: np.ndarray, path: str, kind: str):
    """Store an upright RGB image as ``kind`` says: a sideways JPEG with its EXIF orientation
    (:data:`SIDEWAYS`), grayscale PNG or JPEG, RGBA PNG, CMYK JPEG, or plain JPEG."""
    picture = Image.fromarray(image)
    if kind in SIDEWAYS:
        turn, orientation = SIDEWAYS[kind]
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        picture.transpose(turn).save(path, quality=95, exif=exif)
    elif kind in ('png_gray', 'jpg_gray'):
        picture.convert('L').save(path, quality=95)
    elif kind == 'png_rgba':
        # A transparent border, as a cut-out has; readers drop the alpha channel.
        alpha = np.zeros(image.shape[:2], np.uint8)
        alpha[4:-4, 4:-4] = 255
        picture.putalpha(Image.fromarray(alpha))
        picture.save(path)
    elif kind == 'jpg_cmyk':
        picture.convert('CMYK').save(path, quality=95)
    else:
        picture.save(path, quality=95)


def write_photos(folder: str, split: str, stem: str = 'photo {index:03d}', seed: int = 0,
                 jpeg_only: bool = False) -> List[Dict]:
    """The images of ``split`` (:data:`IMAGES`) in ``folder``, named ``stem`` (formatted with
    ``index`` and ``split``) plus ``.jpg`` or ``.png``; ``jpeg_only`` stores the PNG kinds as
    JPEGs (:data:`AS_JPEG`). Returns per image its ``file_name``, upright ``width`` /
    ``height``, ``kind`` and ``objects`` ((class name, [x, y, w, h]), upright)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed + (split == 'val'))
    records = []
    for index, (width, height, kind) in enumerate(IMAGES[split]):
        if jpeg_only:
            kind = AS_JPEG.get(kind, kind)
        image, objects = _photo(width, height, rng, 0 if kind == 'jpg_empty' else
                                int(rng.integers(1, 4)))
        name = stem.format(index=index, split=split) + ('.png' if kind.startswith('png')
                                                          else '.jpg')
        _save(image, osp.join(folder, name), kind)
        records.append(dict(file_name=name, width=width, height=height, kind=kind,
                            objects=objects))
    return records


def coco_instances(records: Sequence[Dict], with_info: bool) -> Dict:
    """A COCO instances dict of :func:`write_photos` records; category ids :data:`CATEGORY_IDS`."""
    ids = dict(zip(CLASSES, CATEGORY_IDS))
    images, annotations = [], []
    for image_id, record in enumerate(records, start=1):
        images.append(dict(id=image_id, file_name=record['file_name'], width=record['width'],
                           height=record['height']))
        for name, (x, y, w, h) in record['objects']:
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=ids[name],
                bbox=[x, y, w, h], area=w * h, iscrowd=0,
                segmentation=[outline(name, (x, y, w, h))]))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=ids[name], name=name) for name in CLASSES])
    if with_info:
        coco.update(info=dict(description='own_data'), licenses=[])
    return coco


def write_coco_dataset(root, splits=('train', 'val'), with_info: bool = False) -> Dict:
    """``root/images/{split}/`` and ``root/annotations/{split}.json``; by default without
    ``info`` and ``licenses``, as simple converters write them.

    Returns ``dict(root=..., ann_files={split: path}, img_dirs={split: path})``.
    """
    root = str(root)
    paths = dict(root=root, ann_files={}, img_dirs={})
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split in splits:
        img_dir = osp.join(root, 'images', split)
        coco = coco_instances(write_photos(img_dir, split), with_info)
        ann_file = osp.join(root, 'annotations', f'{split}.json')
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
        paths['ann_files'][split], paths['img_dirs'][split] = ann_file, img_dir
    return paths


def _voc_xml(record: Dict, difficult_first: bool) -> str:
    """The VOC xml of a :func:`write_photos` record."""
    depth = 1 if record['kind'] == 'jpg_gray' else 3
    objects = []
    for index, (name, (x, y, w, h)) in enumerate(record['objects']):
        # VOC: 1-based pixel indices, xmax the last column covered.
        objects.append(
            f'<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>'
            f'<difficult>{int(difficult_first and index == 0)}</difficult><bndbox>'
            f'<xmin>{x + 1}</xmin><ymin>{y + 1}</ymin><xmax>{x + w}</xmax><ymax>{y + h}</ymax>'
            '</bndbox></object>')
    return (f'<annotation><folder>JPEGImages</folder><filename>{record["file_name"]}</filename>'
            f'<size><width>{record["width"]}</width><height>{record["height"]}</height>'
            f'<depth>{depth}</depth></size><segmented>0</segmented>{"".join(objects)}'
            '</annotation>')


def write_voc_dataset(root) -> Dict:
    """Pascal VOC's layout: ``root/JPEGImages/ID.jpg`` (all JPEGs, the grayscale one too),
    ``root/Annotations/ID.xml`` (one per image, VOC's 1-based inclusive boxes; the first object
    of the first train image is ``difficult``) and ``root/ImageSets/Main/{train,val}.txt``;
    IDs ``{split}_NNN``.

    Returns ``dict(root=..., img_dir=..., ann_dir=..., split_files={split: path},
    records={split: [records]})`` (records: see :func:`write_photos`).
    """
    root = str(root)
    for folder in ('Annotations', osp.join('ImageSets', 'Main')):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    records, split_files = {}, {}
    for split in ('train', 'val'):
        # VOC's ids (file stems) have no spaces: a split file's line may hold "ID 1".
        records[split] = write_photos(osp.join(root, 'JPEGImages'), split,
                                      stem='{split}_{index:03d}', seed=1, jpeg_only=True)
        ids = []
        for index, record in enumerate(records[split]):
            image_id = osp.splitext(record['file_name'])[0]
            with open(osp.join(root, 'Annotations', f'{image_id}.xml'), 'w') as f:
                f.write(_voc_xml(record, difficult_first=split == 'train' and index == 0))
            ids.append(image_id)
        split_files[split] = osp.join(root, 'ImageSets', 'Main', f'{split}.txt')
        with open(split_files[split], 'w') as f:
            f.write(''.join(f'{image_id}\n' for image_id in ids))
    return dict(root=root, img_dir=osp.join(root, 'JPEGImages'),
                ann_dir=osp.join(root, 'Annotations'), split_files=split_files, records=records)


def _scene(width: int, height: int, rng: np.random.Generator
           ) -> Tuple[np.ndarray, np.ndarray]:
    """An upright RGB image and its label map: sky above a horizon, road surface below, a tree,
    and an unlabelled (void, 0) band along the horizon; labels 1..3 are :data:`SEG_CLASSES`."""
    label = np.zeros((height, width), np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.6))
    label[:horizon - 3] = 1
    label[horizon + 3:] = 2
    x, w = int(rng.integers(0, width // 2)), int(rng.integers(width // 8, width // 3))
    label[horizon // 3:horizon + 3, x:x + w] = 3
    colours = np.array([(90, 90, 90), (120, 170, 230), (110, 100, 110), (40, 120, 40)])
    image = colours[label] + rng.normal(0, 10, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8), label


def write_seg_dataset(root, splits=('train', 'val')) -> Dict:
    """``root/images/{split}/NAME.jpg`` and ``root/labels/{split}/NAME.png``: single-channel
    uint8 maps of the images' upright size, 0 = void (``reduce_zero_label``), 1..3 =
    :data:`SEG_CLASSES`. The images are stored as :data:`IMAGES` says (EXIF, grayscale, ...).

    Returns ``dict(root=..., img_dirs={split: path}, label_dirs={split: path})``.
    """
    root = str(root)
    paths = dict(root=root, img_dirs={}, label_dirs={})
    for split in splits:
        img_dir, label_dir = (osp.join(root, kind, split) for kind in ('images', 'labels'))
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        rng = np.random.default_rng(2 + (split == 'val'))
        for index, (width, height, kind) in enumerate(IMAGES[split]):
            image, label = _scene(width, height, rng)
            # mmseg pairs files by stem: the images are all .jpg here (img_suffix='.jpg').
            _save(image, osp.join(img_dir, f'scene {index:03d}.jpg'), AS_JPEG.get(kind, kind))
            Image.fromarray(label).save(osp.join(label_dir, f'scene {index:03d}.png'))
        paths['img_dirs'][split], paths['label_dirs'][split] = img_dir, label_dir
    return paths


def truncate(path: str):
    """Cut an image file in half, as an interrupted copy or download leaves it: its header
    still reads, its pixels do not (OpenCV decodes the rest as grey, with a warning only)."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def break_coco_dataset(paths: Dict) -> Dict[str, str]:
    """Spoil the train split of a :func:`write_coco_dataset` in place, one problem each: a
    file that is no image, a missing image, a truncated JPEG, the sideways JPEG's size in its
    stored frame (as a converter that ignores EXIF writes it), a box past the border, a box
    without area, an unknown category id.

    Returns what was done, by kind: the image's file name, or for an annotation
    ``'FILE_NAME annotation ID'``.
    """
    ann_file, img_dir = paths['ann_files']['train'], paths['img_dirs']['train']
    with open(ann_file) as f:
        coco = json.load(f)
    images = coco['images']
    with open(osp.join(img_dir, images[0]['file_name']), 'wb') as f:
        f.write(b'\xff\xd8 not a JPEG any more')
    os.remove(osp.join(img_dir, images[1]['file_name']))
    truncate(osp.join(img_dir, images[6]['file_name']))
    sideways = images[3]  # 'jpg_exif' (see IMAGES)
    sideways['width'], sideways['height'] = sideways['height'], sideways['width']
    by_image = {}
    for annotation in coco['annotations']:
        by_image.setdefault(annotation['image_id'], []).append(annotation)
    outside, flat, unknown = (by_image[images[index]['id']][0] for index in (2, 4, 5))
    outside['bbox'] = [images[2]['width'] - 5, 0, 20, 10]
    flat['bbox'][3] = 0
    unknown['category_id'] = 99
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return dict(unreadable=images[0]['file_name'], missing=images[1]['file_name'],
                truncated=images[6]['file_name'], sideways=sideways['file_name'],
                outside=f'{images[2]["file_name"]} annotation {outside["id"]}',
                flat=f'{images[4]["file_name"]} annotation {flat["id"]}',
                unknown=f'{images[5]["file_name"]} annotation {unknown["id"]}')


def break_voc_dataset(paths: Dict) -> Dict[str, str]:
    """Spoil the train split of a :func:`write_voc_dataset` in place: a missing image, a box
    past the border (``xmax`` beyond the width) and a class name in other letter case (``Red
    Car``: mmdet would leave the object out silently). Returns the files, by kind."""
    root, records = paths['root'], paths['records']['train']
    missing = osp.join(root, 'JPEGImages', records[1]['file_name'])
    os.remove(missing)
    changed = dict(missing=missing)
    for kind, index in (('outside', 2), ('misspelt', 3)):
        xml = osp.join(root, 'Annotations', osp.splitext(records[index]['file_name'])[0] + '.xml')
        tree = ElementTree.parse(xml)
        first = tree.getroot().find('object')
        if kind == 'outside':
            first.find('bndbox/xmax').text = str(records[index]['width'] + 30)
        else:
            first.find('name').text = first.find('name').text.title()
        tree.write(xml)
        changed[kind] = xml
    return changed


def break_seg_dataset(paths: Dict, split: str = 'train') -> Dict[str, str]:
    """Spoil a :func:`write_seg_dataset` split in place: a label value past the classes, and a
    label map of another size than its image. Returns the files, by kind."""
    label_dir = paths['label_dirs'][split]
    names = sorted(os.listdir(label_dir))
    wrong_value = osp.join(label_dir, names[0])
    label = np.asarray(Image.open(wrong_value)).copy()
    label[:4, :4] = 9
    Image.fromarray(label).save(wrong_value)
    wrong_size = osp.join(label_dir, names[1])
    Image.fromarray(np.ones((10, 10), np.uint8)).save(wrong_size)
    return dict(value=wrong_value, size=wrong_size)
