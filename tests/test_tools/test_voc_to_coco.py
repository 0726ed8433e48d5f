"""tools/dataset_converters/voc_to_coco.py: VOC xml boxes become the same pixels in COCO form,
difficult objects are ignored rather than lost, and what cannot be converted right is an error
naming the file."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT

TOOL = 'tools/dataset_converters/voc_to_coco.py'


def voc_xml(filename, size, objects):
    """A VOC annotation; ``objects``: (name, difficult, (xmin, ymin, xmax, ymax))."""
    parts = [f'<annotation><folder>VOC</folder><filename>{filename}</filename>']
    if size:
        parts.append(f'<size><width>{size[0]}</width><height>{size[1]}</height>'
                     '<depth>3</depth></size>')
    for name, difficult, box in objects:
        coords = ''.join(f'<{tag}>{value}</{tag}>'
                         for tag, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), box))
        parts.append(f'<object><name>{name}</name><pose>Unspecified</pose>'
                     f'<truncated>0</truncated><difficult>{int(difficult)}</difficult>'
                     f'<bndbox>{coords}</bndbox></object>')
    return ''.join(parts) + '</annotation>'


@pytest.fixture
def voc(tmp_path):
    """Two images: a 60x40 one with a car (the pixels 10..19 x 5..14, VOC 11..20 x 6..15) and a
    difficult person; a 30x50 one without objects and without <size>."""
    images, annotations = tmp_path / 'JPEGImages', tmp_path / 'Annotations'
    images.mkdir()
    annotations.mkdir()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(images / 'a.jpg')
    Image.fromarray(np.zeros((50, 30, 3), np.uint8)).save(images / 'b.jpg')
    (annotations / 'a.xml').write_text(voc_xml('a.jpg', (60, 40), [
        ('red car', False, (11, 6, 20, 15)), ('person', True, (1, 1, 60, 40))]))
    (annotations / 'b.xml').write_text(voc_xml('b.jpg', None, []))
    (tmp_path / 'train.txt').write_text('a\nb\n')
    return tmp_path


def convert(voc, *extra, ok=True):
    result = subprocess.run(
        [sys.executable, TOOL, str(voc / 'JPEGImages'), str(voc / 'Annotations'),
         str(voc / 'out.json'), *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


def test_boxes_cover_the_same_pixels_and_difficult_objects_are_ignored(voc):
    output = convert(voc, '--split-file', str(voc / 'train.txt'), '--classes', 'red car',
                     'person').stdout
    coco = json.loads((voc / 'out.json').read_text())
    assert {'info', 'licenses'} <= set(coco)
    assert coco['categories'] == [dict(id=1, name='red car'), dict(id=2, name='person')]
    assert [(i['file_name'], i['width'], i['height']) for i in coco['images']] == [
        ('a.jpg', 60, 40), ('b.jpg', 30, 50)]
    car, person = coco['annotations']
    assert car['bbox'] == [10, 5, 10, 10] and car['area'] == 100 and car['iscrowd'] == 0
    assert person['bbox'] == [0, 0, 60, 40] and person['iscrowd'] == 1
    assert '2 images, 2 objects (1 difficult' in output


def test_classes_default_to_the_names_found_sorted(voc):
    convert(voc)
    coco = json.loads((voc / 'out.json').read_text())
    assert [c['name'] for c in coco['categories']] == ['person', 'red car']


def test_a_class_not_given_is_named_with_its_file(voc):
    stderr = convert(voc, '--classes', 'red car', ok=False).stderr
    assert "a.xml: class 'person' is not among --classes" in stderr


def test_an_exif_rotated_photo_whose_size_disagrees_is_refused(voc):
    """Stored 60x40 with orientation 6 (rotate 90): mmcv reads it 40x60, the xml says 60x40."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(voc / 'JPEGImages' / 'a.jpg',
                                                          exif=exif)
    stderr = convert(voc, ok=False).stderr
    assert 'a.xml: its <size> is 60x40 but the image' in stderr and 'is 40x60 as read' in stderr


def test_a_missing_image_is_named(voc):
    (voc / 'JPEGImages' / 'b.jpg').unlink()
    stderr = convert(voc, ok=False).stderr
    assert 'b.xml: its image' in stderr and 'does not exist' in stderr
