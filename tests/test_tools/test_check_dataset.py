"""tools/analysis_tools/check_dataset.py on data shaped like photographs (``own_data``): a clean
copy passes with its class counts, a deliberately broken copy fails naming each problem and
its file, for a COCO json, VOC xml files and PNG label maps."""
import os.path as osp

import pytest

from helpers import ROOT, load_tool, write_config
from own_data import (CLASSES, SEG_CLASSES, break_coco_dataset, break_seg_dataset,
                      break_voc_dataset, write_coco_dataset, write_seg_dataset, write_voc_dataset)

EXAMPLES = osp.join(ROOT, 'configs', 'examples')
OWN_COCO = osp.join(EXAMPLES, 'retinanet_lsnet_t_own_coco.py')
OWN_SEG = osp.join(EXAMPLES, 'semfpn_lsnet_t_own_seg.py')
# The COCO recipe's model, on the VOC files as mmdet's XMLDataset reads them.
OWN_VOC_XML = f'''
_base_ = {OWN_COCO!r}
voc = dict(_delete_=True, type='XMLDataset', metainfo=dict(classes={CLASSES!r}),
           data_prefix=dict(sub_data_root=''), pipeline=[])
train_dataloader = dict(dataset=dict(voc, ann_file='ImageSets/Main/train.txt',
                                     filter_cfg=dict(filter_empty_gt=True)))
val_dataloader = dict(dataset=dict(voc, ann_file='ImageSets/Main/val.txt', test_mode=True))
val_evaluator = dict(_delete_=True, type='VOCMetric')
'''


def check(capsys, config, *options, ok=True, splits=('train', 'val')):
    """The tool's output (its report, and the error line it stops with) in this process: a
    subprocess would spend its time importing mmdet."""
    tool = load_tool('analysis_tools/check_dataset')
    argv = [config, '--split', *splits, '--cfg-options', *options]
    if ok:
        tool.main(argv)
        return capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        tool.main(argv)
    return capsys.readouterr().out + str(stopped.value.code)


def data_root(root, *loaders):
    return tuple(f'{loader}_dataloader.dataset.data_root={root}/' for loader in loaders)


def coco_options(root):
    return (*data_root(root, 'train', 'val'), f'val_evaluator.ann_file={root}/annotations/val.json')


def test_clean_coco_data_passes_with_class_counts(tmp_path, capsys):
    paths = write_coco_dataset(tmp_path / 'my_coco')
    output = check(capsys, OWN_COCO, *coco_options(paths['root']))
    assert output.endswith('no errors\n') and 'error' not in output.replace('no errors', '')
    assert f'train: CocoDataset {paths["ann_files"]["train"]}\n  10 images, 22 objects\n' \
        in output
    train_counts = output.split('val: ')[0]
    for name, count in zip(CLASSES, (6, 11, 5)):
        assert f'\n    {name:<12}  {count}\n' in train_counts
    assert 'images without objects (left out of training) (1): photo 007.jpg' in output
    assert 'images without objects (1): photo 003.jpg' in output  # val: not filtered


def test_broken_coco_data_fails_naming_each_problem(tmp_path, capsys):
    paths = write_coco_dataset(tmp_path / 'my_coco')
    broken, images = break_coco_dataset(paths), paths['img_dirs']['train']
    output = check(capsys, OWN_COCO, *coco_options(paths['root']), ok=False)
    assert output.endswith('error: the dataset has errors (listed above)')
    assert 'errors (7):' in output
    assert (f'unreadable or truncated images (2): {images}/{broken["unreadable"]} (not an '
            f'image file PIL can read); {images}/{broken["truncated"]} (image file is '
            'truncated') in output
    assert f'missing images (1): {images}/{broken["missing"]}\n' in output
    assert (f'annotated sizes that disagree with the image (1): {broken["sideways"]}: 190x301 '
            'annotated, 301x190 as read (EXIF orientation applied)\n') in output
    assert f'boxes outside the image (1): {broken["outside"]}: [92, 0, 20, 10] in a 97x131 ' \
        'image' in output
    assert f'boxes without area (under 1 pixel) (1): {broken["flat"]}: ' in output
    assert f'category ids absent from the categories (1): {broken["unknown"]}: category_id ' \
        '99' in output


def test_what_train_would_refuse_is_reported_with_the_rest(tmp_path, capsys):
    paths = write_coco_dataset(tmp_path / 'my_coco')
    output = check(capsys, OWN_COCO, *coco_options(paths['root']),
                   'model.bbox_head.num_classes=80', 'val_evaluator.type=CocoMetric', ok=False)
    assert 'config (1): train data: the dataset has 3 classes but model.bbox_head.num_classes ' \
        'is 80' in output
    assert 'objects per class:' in output  # the report goes on
    assert f'error: val evaluator: {paths["ann_files"]["val"]} has no "info" entry' in output


def test_voc_xml_data_clean_then_broken(tmp_path, capsys):
    paths = write_voc_dataset(tmp_path / 'my_voc')
    config = write_config(tmp_path, OWN_VOC_XML)
    options = data_root(paths['root'], 'train', 'val')
    output = check(capsys, config, *options)
    assert f'train: XMLDataset {paths["root"]}/ImageSets/Main/train.txt\n  10 images, ' \
        '15 objects (1 ignored: iscrowd or difficult)' in output
    assert 'images without objects (left out of training) (1): JPEGImages/train_007.jpg' \
        in output
    assert output.endswith('no errors\n')
    broken = break_voc_dataset(paths)
    output = check(capsys, config, *options, ok=False)
    assert f'missing images (1): {broken["missing"]}\n' in output
    assert f'boxes outside the image (1): {broken["outside"]} object 1: ' in output
    assert ("class names that differ from one of the config's classes only in case, spaces or "
            f'underscores (1): {broken["misspelt"]} object 1: ') in output


def test_segmentation_data_clean_then_broken(tmp_path, capsys):
    paths = write_seg_dataset(tmp_path / 'my_seg')
    options = data_root(paths['root'], 'train', 'val')
    output = check(capsys, OWN_SEG, *options)
    assert output.endswith('no errors\n')
    assert 'images holding each class:\n' + ''.join(
        f'    {name:<12}  10\n' for name in SEG_CLASSES) in output
    broken = break_seg_dataset(paths)
    output = check(capsys, OWN_SEG, *options, ok=False)
    assert (f'label values outside the classes (3 classes, so labels must be 1..3 (0 and 255 '
            f'are ignored: reduce_zero_label=True)) (1): {broken["value"]}: 9\n') in output
    assert f'label maps of another size than their image (1): {broken["size"]}: 10x10, the ' \
        'image 150x223' in output


def test_a_dataset_type_it_does_not_read_is_named(tmp_path, capsys):
    paths = write_coco_dataset(tmp_path / 'my_coco', splits=('val',))
    output = check(capsys, OWN_COCO, *coco_options(paths['root']),
                   'val_dataloader.dataset.type=CrowdHumanDataset', ok=False, splits=('val',))
    assert output == ('error: val data: the checker reads the COCO json of CocoDataset, the VOC '
                      'xml of XMLDataset / VOCDataset (and their subclasses), not '
                      'CrowdHumanDataset')
