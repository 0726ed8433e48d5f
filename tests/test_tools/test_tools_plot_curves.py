"""tools/analysis_tools/plot_curves.py on synthetic mmengine logs."""
import json
import math

import matplotlib.image
import pytest

from helpers import load_tool


@pytest.fixture(scope='module')
def plot_tool():
    return load_tool('analysis_tools/plot_curves')


def write_detection_run(work_dir, run='20250101_120000', epochs=4, iters_per_epoch=50):
    """A scalars.json as an epoch-based mmdet run writes it: train records every 10 iterations,
    one COCO validation record per epoch."""
    log = work_dir / run / 'vis_data' / 'scalars.json'
    log.parent.mkdir(parents=True)
    lines = []
    for epoch in range(1, epochs + 1):
        for it in range(10, iters_per_epoch + 1, 10):
            step = (epoch - 1) * iters_per_epoch + it
            loss_cls, loss_bbox = 1.2 * math.exp(-step / 80), 0.6 * math.exp(-step / 120)
            lines.append(dict(base_lr=1e-4, lr=1e-4 * min(1, step / 60), data_time=0.01,
                              loss=loss_cls + loss_bbox, loss_cls=loss_cls, loss_bbox=loss_bbox,
                              time=0.5, epoch=epoch, iter=step, memory=900, step=step))
        lines.append({'coco/bbox_mAP': 0.1 * epoch, 'coco/bbox_mAP_50': 0.2 * epoch,
                      'data_time': 0.01, 'time': 0.2, 'step': epoch})
    log.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    return log


def test_png_from_a_work_dir(plot_tool, tmp_path, capsys):
    write_detection_run(tmp_path, '20250101_100000', epochs=1)
    log = write_detection_run(tmp_path)  # the later run is plotted
    out = tmp_path / 'curves.png'
    plot_tool.main([str(tmp_path), '--out', str(out)])
    output = capsys.readouterr().out
    assert f'{log}: 20 training and 4 validation records, last coco/bbox_mAP 0.4' in output
    picture = matplotlib.image.imread(out)
    assert picture.shape[0] > 300 and picture.shape[1] > 1000
    assert picture[..., :3].std() > 0.05  # not blank


def test_default_output_next_to_log_and_chosen_metrics(plot_tool, tmp_path):
    log = write_detection_run(tmp_path)
    plot_tool.main([str(log), '--metrics', 'coco/bbox_mAP_50'])
    assert (log.parent / 'curves.png').exists()
    with pytest.raises(SystemExit, match=r"metrics \['mIoU'\] are not in the log"):
        plot_tool.main([str(log), '--metrics', 'mIoU'])


def test_training_only_log(plot_tool, tmp_path):
    log = tmp_path / 'scalars.json'
    log.write_text(json.dumps(dict(lr=0.01, loss=1.0, iter=10, step=10)) + '\n')
    plot_tool.main([str(log), '--out', str(tmp_path / 'c.png')])
    assert (tmp_path / 'c.png').exists()


@pytest.mark.parametrize('content,match', [(None, 'No vis_data/scalars.json under'),
                                           ('not json\n', 'is not a JSON record')])
def test_bad_input_is_explained(plot_tool, tmp_path, content, match):
    path = tmp_path
    if content is not None:
        path = tmp_path / 'scalars.json'
        path.write_text(content)
    with pytest.raises(SystemExit, match=match):
        plot_tool.main([str(path)])
