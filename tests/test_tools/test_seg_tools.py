"""The segmentation tools end to end on a tiny demo dataset: train, test, report, draw."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from lsnet_dense.datasets.demo_ade20k import CLASSES, generate_demo_ade20k
from helpers import ROOT, confusion_matrix, scores_from_confusion
from tolerances import PRINTED_METRIC_ROUNDING

NUM_VAL = 3


def run(*args, check=True):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True)
    if check and result.returncode:
        raise AssertionError(f'{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """tools/demo_seg.py (train.py, test.py, report_seg.py as subprocesses), 4 iterations."""
    root = tmp_path_factory.mktemp('demo_seg')
    data_root, work_dir = root / 'data', root / 'work'
    generate_demo_ade20k(str(data_root), num_train=8, num_val=NUM_VAL)
    output = run('tools/demo_seg.py', '--data-root', data_root, '--work-dir', work_dir,
                 '--max-iters', 4).stdout
    return data_root, work_dir, output


def test_demo_trains_tests_reports_and_draws(demo_run):
    _, work_dir, output = demo_run
    assert (work_dir / 'iter_4.pth').is_file()
    record = json.loads((work_dir / 'test_metrics.json').read_text())
    assert record['config'].endswith('semfpn_lsnet_t_demo_ade20k.py')
    metrics = record['metrics']
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert list(metrics['per_class']) == list(CLASSES)
    assert '| run | aAcc | mIoU | mAcc |' in output and 'val mIoU' in output
    for name in ('seg_report.md', 'seg_summary.csv', 'seg_per_class.csv', 'seg_report.json'):
        assert (work_dir / name).is_file()
    drawing = cv2.imread(str(work_dir / 'prediction_vs_ground_truth.png'))
    # NUM_VAL rows of image | truth | prediction, drawn at twice the 160x120 size.
    assert drawing.shape[1] == 3 * 2 * 160 and drawing.shape[0] > NUM_VAL * 2 * 120


def test_reported_numbers_equal_a_count_over_the_saved_predictions(demo_run):
    data_root, work_dir, _ = demo_run
    predictions, labels = [], []
    for path in sorted((work_dir / 'predicted_label_maps').glob('*.png')):
        # Both maps are in the raw ADE20K label space: 0 = other, class i = i + 1.
        truth = cv2.imread(str(data_root / 'annotations' / 'validation' / path.name),
                           cv2.IMREAD_UNCHANGED).astype(np.int64)
        predictions.append(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.int64) - 1)
        labels.append(np.where(truth == 0, 255, truth - 1))
    assert len(predictions) == NUM_VAL
    summary, iou, acc = scores_from_confusion(confusion_matrix(predictions, labels, len(CLASSES)))

    report = json.loads((work_dir / 'seg_report.json').read_text())['runs'][0]
    for key, value in summary.items():
        assert report[key] == pytest.approx(value, abs=PRINTED_METRIC_ROUNDING), key
    for i, name in enumerate(CLASSES):
        for key, expected in (('IoU', iou[i]), ('Acc', acc[i])):
            got = report['per_class'][name][key]
            assert (got is None) if np.isnan(expected) else got == pytest.approx(
                expected, abs=PRINTED_METRIC_ROUNDING), (name, key)


def fake_result(path, config, miou):
    path.mkdir()
    metrics = dict(aAcc=80.0, mIoU=miou, mAcc=50.0,
                   per_class={'wall': dict(IoU=70.0, Acc=80.0), 'sky': dict(IoU=None, Acc=None)})
    (path / 'test_metrics.json').write_text(json.dumps(
        dict(config=config, checkpoint='x.pth', metrics=metrics)))
    return path


def test_report_compares_runs_with_published_numbers(tmp_path):
    tiny = fake_result(tmp_path / 't', 'configs/semfpn_lsnet_t_ade20k.py', 39.6)
    other = fake_result(tmp_path / 'u', 'configs/upernet_lsnet_t_ade20k.py', 41.0)
    out = tmp_path / 'report'
    printed = run('tools/analysis_tools/report_seg.py', tiny, other / 'test_metrics.json',
                  '--out-dir', out, '--compare-published').stdout
    assert '| semfpn_lsnet_t_ade20k | 80.00 | 39.60 | 50.00 | 40.10 | -0.50 |' in printed
    assert '| upernet_lsnet_t_ade20k | 80.00 | 41.00 | 50.00 | n/a | n/a |' in printed
    assert '| sky | n/a | n/a |' in printed
    per_class = (out / 'seg_per_class.csv').read_text().splitlines()
    assert per_class[:2] == ['run,class,IoU,Acc', 'semfpn_lsnet_t_ade20k,wall,70.00,80.00']
    runs = json.loads((out / 'seg_report.json').read_text())['runs']
    assert [r['published_mIoU'] for r in runs] == [40.1, None]


def test_report_rejects_a_detection_result(tmp_path):
    (tmp_path / 'test_metrics.json').write_text(json.dumps(
        dict(config='retinanet.py', metrics={'coco/bbox_mAP': 0.3})))
    result = run('tools/analysis_tools/report_seg.py', tmp_path, check=False)
    assert result.returncode == 1
    assert 'not a segmentation result' in result.stderr and 'coco/bbox_mAP' in result.stderr
