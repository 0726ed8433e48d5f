"""PerClassIoUMetric: mmseg's numbers, checked against an independent confusion-matrix count."""
import numpy as np
import pytest
import torch

from lsnet_dense.evaluation.per_class_iou_metric import PER_CLASS_KEY, PerClassIoUMetric
from helpers import IGNORE_INDEX, confusion_matrix, scores_from_confusion


def fake_results(num_classes, seed=0):
    """Predictions that are right ~70% of the time, on images of several sizes.

    Class ``num_classes - 1`` never occurs (both ratios 0/0), class ``num_classes - 2`` is only
    ever predicted (IoU 0, Acc 0/0), and a band of every label map is ignored.
    """
    rng = np.random.default_rng(seed)
    predictions, labels = [], []
    for h, w in [(37, 50), (64, 64), (20, 91)]:
        label = rng.integers(0, num_classes - 2, (h, w))
        noise = rng.integers(0, num_classes - 1, (h, w))
        prediction = np.where(rng.random((h, w)) < 0.7, label, noise)
        label[: h // 5] = IGNORE_INDEX
        predictions.append(prediction)
        labels.append(label)
    return predictions, labels


def evaluate(predictions, labels, classes):
    metric = PerClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=classes)
    for prediction, label in zip(predictions, labels):
        metric.process({}, [dict(pred_sem_seg=dict(data=torch.from_numpy(prediction)[None]),
                                 gt_sem_seg=dict(data=torch.from_numpy(label)[None]))])
    return metric.evaluate(len(predictions))


def test_summary_and_per_class_equal_a_confusion_matrix_count():
    classes = ('sky', 'water', 'sand', 'grass', 'ball', 'box')
    predictions, labels = fake_results(len(classes))
    metrics = evaluate(predictions, labels, classes)

    summary, iou, acc = scores_from_confusion(confusion_matrix(predictions, labels, len(classes)))
    # mmseg rounds to two decimals.
    for key, value in summary.items():
        assert metrics[key] == pytest.approx(value, abs=0.0051), key
    per_class = metrics[PER_CLASS_KEY]
    assert list(per_class) == list(classes)
    for i, name in enumerate(classes):
        for key, expected in (('IoU', iou[i]), ('Acc', acc[i])):
            if np.isnan(expected):
                assert per_class[name][key] is None, (name, key)
            else:
                assert per_class[name][key] == pytest.approx(expected, abs=0.0051), (name, key)
    assert per_class['box'] == dict(IoU=None, Acc=None)
    assert per_class['ball']['IoU'] == 0 and per_class['ball']['Acc'] is None


def test_perfect_predictions_score_100():
    classes = ('a', 'b', 'c')
    _, labels = fake_results(len(classes) + 2)
    predictions = [np.where(label == IGNORE_INDEX, 0, label) for label in labels]
    metrics = evaluate(predictions, labels, classes)
    assert metrics['mIoU'] == metrics['mAcc'] == metrics['aAcc'] == 100
