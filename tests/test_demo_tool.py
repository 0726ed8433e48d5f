"""tools/demo.py --epochs N trains the demo config for N epochs with its schedule moved."""
import sys

import pytest
from mmengine.config import Config

from lsnet_dense.engine import load_run_config
from tools_support import load_tool


class Stop(Exception):
    pass


def training_config(monkeypatch, *demo_args):
    """The config tools/train.py would run for ``tools/demo.py DEMO_ARGS``."""
    demo = load_tool('demo')
    commands = []

    def record(*args, threads, progress=None):
        commands.append(list(args))
        raise Stop  # no training here

    monkeypatch.setattr(demo, 'run', record)
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
