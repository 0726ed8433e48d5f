"""A COCO json as simple converters write it (no ``info`` / ``licenses``) is evaluated, not a
crash after training; what does not fit the config (classes, ``num_classes``, an unparsable
file, a missing evaluator file, ``info`` for mmdet's plain CocoMetric) is a pre-flight error of
``tools/train.py``, from one parse of each json."""
import json
import os.path as osp

import pytest
from mmdet.evaluation import CocoMetric

from helpers import ROOT, refusal_of
from lsnet_dense.engine import check_datasets, load_config
from lsnet_dense.engine import preflight
from lsnet_dense.errors import PreflightError
from lsnet_dense.evaluation import ClasswiseCocoMetric
from own_data import CLASSES, write_coco_dataset

OWN_COCO = osp.join(ROOT, 'configs', 'examples', 'retinanet_lsnet_t_own_coco.py')


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return write_coco_dataset(tmp_path_factory.mktemp('own') / 'my_coco')


def data_options(coco):
    root = coco['root']
    return (f'train_dataloader.dataset.data_root={root}/',
            f'val_dataloader.dataset.data_root={root}/',
            f'val_evaluator.ann_file={root}/annotations/val.json')


def train_refusal(coco, *options, monkeypatch):
    # max_epochs=0: where the pre-flight lets a case through, the run ends without training.
    return refusal_of('train', OWN_COCO, '--work-dir', f'{coco["root"]}/work', '--cfg-options',
                      *data_options(coco), 'load_from=None', 'model.backbone.init_cfg=None',
                      'train_cfg.max_epochs=0', *options, monkeypatch=monkeypatch)


def evaluate_once(metric_type, ann_file):
    """A ``metric_type`` (built directly: the registry would follow whatever default scope an
    earlier test left) scoring one image's ground truth box as its prediction."""
    import torch

    with open(ann_file) as f:
        coco = json.load(f)
    image = next(i for i in coco['images']
                 if any(a['image_id'] == i['id'] for a in coco['annotations']))
    box = next(a for a in coco['annotations'] if a['image_id'] == image['id'])
    label = [c['id'] for c in coco['categories']].index(box['category_id'])
    metric = metric_type(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=CLASSES)
    x, y, w, h = box['bbox']
    metric.process({}, [dict(img_id=image['id'], ori_shape=(image['height'], image['width']),
                             pred_instances=dict(bboxes=torch.tensor([[x, y, x + w, y + h]],
                                                                     dtype=torch.float),
                                                 scores=torch.tensor([0.9]),
                                                 labels=torch.tensor([label])))])
    return metric.evaluate(1)


def test_classwise_metric_scores_a_json_without_info(coco):
    with open(coco['ann_files']['val']) as f:
        assert 'info' not in json.load(f)
    metrics = evaluate_once(ClasswiseCocoMetric, coco['ann_files']['val'])
    assert metrics['coco/bbox_mAP'] > 0
    assert f'coco/bbox_{CLASSES[0]}_AP' in metrics


def test_plain_cocometric_without_info_is_refused_before_training(coco, monkeypatch):
    with pytest.raises(KeyError, match='info'):  # what would happen after the last epoch
        evaluate_once(CocoMetric, coco['ann_files']['val'])
    message = train_refusal(coco, 'val_evaluator.type=CocoMetric', monkeypatch=monkeypatch)
    assert message == (
        f'error: val evaluator: {coco["ann_files"]["val"]} has no "info" entry, which mmdet\'s '
        'CocoMetric needs (pycocotools copies it when scoring, after training). Add "info": {} '
        "to the file, or evaluate with the toolkit's ClasswiseCocoMetric "
        '(val_evaluator.type=ClasswiseCocoMetric), which fills it in')


def test_num_classes_that_differ_from_the_classes_are_refused(coco, monkeypatch):
    message = train_refusal(coco, 'model.bbox_head.num_classes=80', monkeypatch=monkeypatch)
    assert message == ('error: train data: the dataset has 3 classes but '
                       'model.bbox_head.num_classes is 80; set it (and any other num_classes of '
                       'the heads) to 3')


def test_classes_absent_from_the_categories_are_named(coco, monkeypatch):
    message = train_refusal(coco, 'train_dataloader.dataset.metainfo.classes=[bus,Red_Car]',
                            'model.bbox_head.num_classes=2', monkeypatch=monkeypatch)
    assert message.startswith(
        "error: train data: 2 of the config's metainfo classes are no category of "
        f"{coco['ann_files']['train']}: 'bus', 'Red_Car' (the json has 'red car'). Its "
        "categories: 'red car', 'traffic sign', 'person'. Set the dataset's metainfo")


def test_an_unparsable_json_is_named(coco, tmp_path, monkeypatch):
    broken = tmp_path / 'train.json'
    broken.write_text('{"images": [')
    message = train_refusal(coco, f'train_dataloader.dataset.ann_file={broken}',
                            monkeypatch=monkeypatch)
    assert message.startswith(f'error: {broken} is not a readable COCO json file: Expecting ')


def test_a_missing_evaluator_file_is_refused(coco, tmp_path, monkeypatch):
    """As after ``--cfg-options ...data_root=...`` alone: the config's evaluator path stays."""
    message = train_refusal(coco, f'val_evaluator.ann_file={tmp_path}/val.json',
                            monkeypatch=monkeypatch)
    assert message.startswith(f"error: val evaluator: its ann_file '{tmp_path}/val.json' does "
                              'not exist. Set val_evaluator.ann_file to the json of the val data')


def test_each_json_is_parsed_once_and_not_kept(tmp_path, monkeypatch):
    """train.json, and val.json for both the val dataset and its CocoMetric: two parses."""
    coco = write_coco_dataset(tmp_path / 'my_coco', with_info=True)  # passes CocoMetric's check
    cfg = load_config(OWN_COCO, dict(option.split('=', 1) for option in data_options(coco)))
    cfg.val_evaluator.type = 'CocoMetric'
    parsed = []
    monkeypatch.setattr(preflight.json, 'load',
                        lambda f, load=json.load: parsed.append(f.name) or load(f))
    check_datasets(cfg, ['train', 'val'])
    assert sorted(map(osp.basename, parsed)) == ['train.json', 'val.json']
    assert not preflight._COCO_JSONS  # gigabytes for COCO: freed before training


def test_an_image_info_json_passes_for_results_only(tmp_path):
    """COCO's test-dev form: images and categories, no annotations; scored by the server, so
    the test loader (test_mode) and a format_only CocoMetric need none."""
    coco = write_coco_dataset(tmp_path / 'my_coco', splits=('val',))
    with open(coco['ann_files']['val']) as f:
        image_info = {key: value for key, value in json.load(f).items() if key != 'annotations'}
    with open(coco['ann_files']['val'], 'w') as f:
        json.dump(image_info, f)
    cfg = load_config(OWN_COCO, {'test_dataloader.dataset.data_root': coco['root'] + '/',
                                 'test_evaluator.ann_file': coco['ann_files']['val'],
                                 'test_evaluator.type': 'CocoMetric',
                                 'test_evaluator.format_only': True})
    check_datasets(cfg, ['test'])
    cfg.test_dataloader.dataset.test_mode = False  # as for training on it
    with pytest.raises(PreflightError, match="is no COCO instances file: it has no "
                                             "'annotations' entry"):
        check_datasets(cfg, ['test'])
