"""tools/demo.py: the five stages for real on a tiny generated dataset, what it trains
(--epochs N moves the schedule), and its demo dataset."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import pytest
from mmengine.config import Config

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import load_run_config
from lsnet_dense.visualization.captions import STRIP_HEIGHT
from helpers import ROOT, load_tool
from tolerances import DEMO_TIMING_ROUNDING_S

# A row of report.py's COCO AP table: "| this run | bbox | 0.0 | 0.1 | 0.0 | 0.0 | 0.0 | - |".
AP_ROW = re.compile(r'^\| this run \| (bbox|segm) \|((?: [\d.]+ \|| - \|){6})$', re.M)
TIMING = re.compile(r'^demo finished in ([\d.]+) min \(data (\d+) s, training (\d+) s, '
                    r'testing (\d+) s, drawing (\d+) s\)$')


def test_demo_runs_its_five_stages_on_a_reduced_schedule(tmp_path):
    """`make demo` as a user runs it, shrunk: the dataset generated (4 training images, 2 val),
    one training iteration, tested, the AP table, the picture and the timing line. Mask R-CNN:
    after one step RetinaNet scores no box above the config's 0.05, so it would have no AP
    table to print; Mask R-CNN's classifier starts near 1/4 per class."""
    data_root, work_dir = tmp_path / 'data', tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, 'tools/demo.py', '--model', 'mask_rcnn', '--data-root', str(data_root),
         '--work-dir', str(work_dir), '--epochs', '1', '--num-train', '4', '--num-val', '2',
         '--threads', '1'], cwd=ROOT, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    stages = [line for line in out.splitlines() if re.match(r'\[\d/5\] ', line)]
    assert [line[:5] for line in stages] == [f'[{i}/5]' for i in range(1, 6)], stages
    assert stages[0] == f'[1/5] generating the demo dataset in {data_root} ...'
    with open(data_root / 'annotations' / 'instances_train.json') as f:
        assert len(json.load(f)['images']) == 4
    assert 'epoch 1/1, iteration 1/1: loss ' in out

    rows = {kind: [None if v.strip() == '-' else float(v) for v in values.split('|')[:-1]]
            for kind, values in AP_ROW.findall(out)}
    assert sorted(rows) == ['bbox', 'segm'], out
    assert all(0 <= v <= 100 for values in rows.values() for v in values if v is not None)
    with open(work_dir / 'report.json') as f:
        assert f.read()  # the tables' files are written beside the printed one

    picture = work_dir / 'prediction_vs_ground_truth.png'
    assert f'  picture: {picture}' in out
    image = cv2.imread(str(picture))
    assert image is not None
    panel = 256  # the 128 px images enlarged twice; one row per val image
    assert image.shape == (2 * STRIP_HEIGHT + 2 * panel, 3 * panel, 3)
    assert osp.isfile(work_dir / 'epoch_1.pth')

    timing = TIMING.match(out.splitlines()[-1])
    assert timing, out.splitlines()[-1]
    minutes, *seconds = (float(v) for v in timing.groups())
    assert abs(minutes * 60 - sum(seconds)) <= DEMO_TIMING_ROUNDING_S
    assert seconds[1] > 0  # the training took time: it ran


class Stop(Exception):
    pass


def training_config(monkeypatch, *demo_args):
    """The config tools/train.py would run for ``tools/demo.py DEMO_ARGS``."""
    demo = load_tool('demo')
    commands = []

    def record(*args, cwd, threads, progress=None):
        commands.append(list(args))
        raise Stop  # no training here

    monkeypatch.setattr(demo, 'run_tool', record)
    monkeypatch.setattr(demo, 'generate_demo_coco', lambda *args, **kwargs: None)
    monkeypatch.setattr(sys, 'argv', ['demo.py', *demo_args])
    with pytest.raises(Stop):
        demo.main()
    monkeypatch.setattr(sys, 'argv', commands[0])
    args = load_tool('train').parse_args()
    return load_run_config(args.config, args.cfg_options, args.work_dir)


@pytest.mark.parametrize('model', ['retinanet', 'mask_rcnn'])
@pytest.mark.parametrize('epochs', [2, 48])
def test_epochs_move_the_end_of_the_learning_rate_decay(epochs, model, monkeypatch):
    cfg = training_config(monkeypatch, '--model', model, '--epochs', str(epochs))
    decay = next(s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR')
    assert decay.end == epochs and 'T_max' not in decay  # T_max follows end
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == epochs
    assert cfg.default_hooks.checkpoint.interval == epochs


def test_default_schedule_is_the_config_s(monkeypatch):
    cfg = training_config(monkeypatch)
    planned = Config.fromfile(cfg.filename).train_cfg.max_epochs
    decay = next(s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR')
    assert decay.end == cfg.train_cfg.max_epochs == planned


def test_training_leaves_the_evaluation_to_the_test_stage(monkeypatch):
    cfg = training_config(monkeypatch)
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None


def test_dataset_of_an_older_version_is_used_with_a_note(monkeypatch, tmp_path, capsys):
    annotations = tmp_path / 'old' / 'annotations'
    annotations.mkdir(parents=True)
    (annotations / 'instances_val.json').write_text(json.dumps({'info': {'version': '1.0'}}))
    training_config(monkeypatch, '--data-root', str(tmp_path / 'old'))
    out = capsys.readouterr().out
    assert 'there already' in out and 'data version 1.0' in out
    assert f'Delete {tmp_path / "old"}' in out


def test_val_split_does_not_change_with_the_number_of_training_images(tmp_path):
    small = generate_demo_coco(str(tmp_path / 'small'), num_train=2, num_val=3, height=64,
                               width=64)
    large = generate_demo_coco(str(tmp_path / 'large'), num_train=5, num_val=3, height=64,
                               width=64)
    with open(small['val']) as f, open(large['val']) as g:
        assert json.load(f) == json.load(g)
    for name in ('000001.jpg', '000003.jpg'):
        assert ((tmp_path / 'small' / 'val' / name).read_bytes()
                == (tmp_path / 'large' / 'val' / name).read_bytes())
