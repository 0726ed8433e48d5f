"""tools/demo.py: what it trains (--epochs N moves the schedule), and its demo dataset."""
import json
import sys

import pytest
from mmengine.config import Config

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import load_run_config
from helpers import load_tool


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
