"""tools/demo.py --epochs N trains the demo config for N epochs with its schedule scaled."""
import sys

import pytest

from lsnet_dense.engine import load_run_config
from tools_support import load_tool


class Stop(Exception):
    pass


def training_config(monkeypatch, *demo_args):
    """The config tools/train.py would run for ``tools/demo.py DEMO_ARGS``."""
    demo = load_tool('demo')
    commands = []

    def record(*args, threads):
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


@pytest.mark.parametrize('epochs,milestone', [(8, 6), (2, 1), (48, 36)])
def test_epochs_move_the_learning_rate_step(epochs, milestone, monkeypatch):
    cfg = training_config(monkeypatch, '--epochs', str(epochs))
    step = next(s for s in cfg.param_scheduler if s.type == 'MultiStepLR')
    assert step.milestones == [milestone] and step.end == epochs
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == epochs
    assert cfg.default_hooks.checkpoint.interval == epochs


def test_default_schedule_is_the_config_s(monkeypatch):
    cfg = training_config(monkeypatch)
    step = next(s for s in cfg.param_scheduler if s.type == 'MultiStepLR')
    assert step.milestones == [18] and cfg.train_cfg.max_epochs == 24
