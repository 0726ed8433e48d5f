"""The data of ``own_data`` is what its docstrings promise, read as mmdet and mmseg read it: the
sideways JPEGs, the grayscale, RGBA and CMYK files load upright with three channels at the
annotated size, every box lies on its object, the VOC files parse through mmdet's XMLDataset,
the label maps match their images."""
import json
import os.path as osp

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from own_data import (CATEGORY_IDS, CLASSES, COLOURS, EXIF_ORIENTATION, SEG_CLASSES,
                      write_coco_dataset, write_seg_dataset, write_voc_dataset)


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return write_coco_dataset(tmp_path_factory.mktemp('own') / 'my_coco')


def read_json(path):
    with open(path) as f:
        return json.load(f)


def assert_on_object(img, bbox, name, path):
    """The box's centre has its class's colour (grayscale files: its luminance), which fails
    for an image turned the wrong way or boxes in the stored, sideways frame."""
    x, y, w, h = (int(v) for v in bbox)
    pixel = img[y + h // 2, x + w // 2][::-1].astype(float)  # BGR -> RGB
    colour = np.array(COLOURS[name], float)
    if np.ptp(img[..., :3], axis=2).max() == 0:  # a grayscale file: only luminance is left
        pixel, colour = pixel[:1], colour @ [0.299, 0.587, 0.114]
    assert np.abs(pixel - colour).max() < 40, f'{path}: box {bbox} is not on a {name!r}'


def test_coco_images_load_upright_with_three_channels_as_annotated(coco):
    load = LoadImageFromFile()  # mmdet's pipelines' first step (mmcv, cv2, 'color')
    for split in ('train', 'val'):
        annotations = read_json(coco['ann_files'][split])
        names = {c['id']: c['name'] for c in annotations['categories']}
        for image in annotations['images']:
            path = osp.join(coco['img_dirs'][split], image['file_name'])
            img = load(dict(img_path=path))['img']
            assert img.shape == (image['height'], image['width'], 3), path
            for box in (a for a in annotations['annotations'] if a['image_id'] == image['id']):
                x, y, w, h = box['bbox']
                assert 0 <= x and 0 <= y and x + w <= image['width'] and y + h <= image['height']
                assert box['area'] == w * h and box['iscrowd'] == 0 and box['segmentation']
                assert_on_object(img, box['bbox'], names[box['category_id']], path)


def test_coco_files_have_what_user_data_has(coco):
    """Sideways JPEGs (EXIF orientations 6 and 8, the stored size transposed), grayscale /
    RGBA PNGs, a CMYK JPEG, portrait and landscape sides that are no multiples of 32, an image
    without objects, category ids neither 0-based nor contiguous, no info / licenses."""
    modes, orientations, shapes, empty = set(), set(), set(), 0
    for split in ('train', 'val'):
        annotations = read_json(coco['ann_files'][split])
        assert 'info' not in annotations and 'licenses' not in annotations
        assert [(c['id'], c['name']) for c in annotations['categories']] == list(
            zip(CATEGORY_IDS, CLASSES))
        annotated = {a['image_id'] for a in annotations['annotations']}
        empty += sum(image['id'] not in annotated for image in annotations['images'])
        for image in annotations['images']:
            with Image.open(osp.join(coco['img_dirs'][split], image['file_name'])) as picture:
                modes.add(picture.mode)
                orientation = picture.getexif().get(EXIF_ORIENTATION, 1)
                orientations.add(orientation)
                stored = (image['height'], image['width']) if orientation in (6, 8) else \
                    (image['width'], image['height'])
                assert picture.size == stored, image['file_name']
            shapes.add((image['width'] > image['height'], image['width'] % 32 == 0,
                        image['height'] % 32 == 0))
    assert {'L', 'RGBA', 'CMYK', 'RGB'} <= modes and {1, 6, 8} <= orientations
    assert (True, False, False) in shapes and (False, False, False) in shapes
    assert empty >= 2  # one per split
    assert 'info' in read_json(write_coco_dataset(coco['root'] + '_info', ('val',),
                                                  with_info=True)['ann_files']['val'])


def test_voc_files_parse_through_mmdet_with_boxes_on_their_objects(tmp_path):
    from mmdet.datasets import XMLDataset

    paths = write_voc_dataset(tmp_path / 'my_voc')
    load = LoadImageFromFile()
    for split in ('train', 'val'):
        dataset = XMLDataset(data_root=paths['root'], ann_file=f'ImageSets/Main/{split}.txt',
                             data_prefix=dict(sub_data_root=''), metainfo=dict(classes=CLASSES),
                             pipeline=[], test_mode=True)
        assert len(dataset) == len(paths['records'][split])
        instances = 0
        for info in dataset:
            img = load(dict(img_path=info['img_path']))['img']
            assert img.shape == (info['height'], info['width'], 3), info['img_path']
            for instance in info['instances']:
                # mmdet's VOC boxes: [xmin - 1, ymin - 1, xmax - 1, ymax - 1]
                x1, y1, x2, y2 = instance['bbox']
                assert 0 <= x1 < x2 < info['width'] and 0 <= y1 < y2 < info['height']
                assert_on_object(img, (x1, y1, x2 - x1 + 1, y2 - y1 + 1),
                                 CLASSES[instance['bbox_label']], info['img_path'])
                instances += 1
        assert instances == sum(len(r['objects']) for r in paths['records'][split])
    assert dataset.get_data_info(3)['instances'] == []  # val_003, without objects
    difficult = XMLDataset(data_root=paths['root'], ann_file='ImageSets/Main/train.txt',
                           data_prefix=dict(sub_data_root=''), metainfo=dict(classes=CLASSES),
                           pipeline=[], test_mode=True).get_data_info(0)['instances'][0]
    assert difficult['ignore_flag'] == 1


def test_label_maps_match_their_upright_images(tmp_path):
    paths = write_seg_dataset(tmp_path / 'my_seg')
    load = LoadImageFromFile()
    for split in ('train', 'val'):
        names = sorted(n[:-4] for n in
                       map(osp.basename, map(str, (tmp_path / 'my_seg' / 'images' / split)
                                             .iterdir())))
        values = set()
        for name in names:
            img = load(dict(img_path=osp.join(paths['img_dirs'][split], f'{name}.jpg')))['img']
            label = np.asarray(Image.open(osp.join(paths['label_dirs'][split], f'{name}.png')))
            assert label.dtype == np.uint8 and label.shape == img.shape[:2], name
            values |= set(np.unique(label).tolist())
        assert values == set(range(len(SEG_CLASSES) + 1))  # 0 = void, 1..3 the classes
