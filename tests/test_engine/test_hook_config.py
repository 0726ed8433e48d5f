"""The toolkit's hooks (NaN guard, reseeding, strict loading) survive a child config's own hooks.

mmengine replaces a list in a child config and merges a dict by key, so the toolkit's hooks are
keys of ``default_hooks``; ``custom_hooks`` is left to the user.
"""
import glob
import os.path as osp

import pytest
from mmengine.runner import Runner

from lsnet_dense.engine import load_run_config
from helpers import ROOT

# Every config built on configs/_base_/det_runtime.py or seg_runtime.py (configs/examples/ are
# stock mmdet/mmseg configs with LSNet swapped in, and have no toolkit hooks).
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py'))
                 + glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py')))
TOOLKIT_HOOKS = {'reseed': 'ReseedHook', 'non_finite_loss': 'NonFiniteLossHook',
                 'strict_load': 'StrictLoadHook'}


def child_config(tmp_path, base):
    """A user's config on ``base`` with the custom hooks the README suggests for EMA."""
    path = tmp_path / f'ema_{osp.basename(base)}'
    path.write_text(f"_base_ = {base!r}\ncustom_hooks = [dict(type='EMAHook')]\n")
    return str(path)


def test_configs_are_found():
    names = {osp.basename(path) for path in CONFIGS}
    assert len(names) == 15 and 'retinanet_lsnet_t_demo.py' in names
    assert {'mask_rcnn_lsnet_t_demo.py', 'semfpn_lsnet_t_demo_ade20k.py'} <= names


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_custom_hooks_of_a_child_config_keep_the_toolkit_hooks(config, tmp_path):
    cfg = load_run_config(child_config(tmp_path, config))
    assert [hook.type for hook in cfg.custom_hooks] == ['EMAHook']
    assert {key: cfg.default_hooks[key].type for key in TOOLKIT_HOOKS} == TOOLKIT_HOOKS


# One config on each base that holds the toolkit hooks: det_runtime.py and the two mmseg
# schedules (mmseg keeps default_hooks there).
@pytest.mark.parametrize('config', ['demo/retinanet_lsnet_t_demo.py', 'semfpn_lsnet_t_ade20k.py',
                                    'upernet_lsnet_t_ade20k.py'])
def test_the_runner_orders_the_toolkit_hooks_as_before(config, tmp_path):
    cfg = load_run_config(child_config(tmp_path, osp.join(ROOT, 'configs', config)),
                          work_dir=str(tmp_path / 'work'))
    types = [type(hook).__name__ for hook in Runner.from_cfg(cfg).hooks]
    assert types.count('EMAHook') == 1
    # Each once, where their priorities put them (as when they were custom hooks): reseeding
    # and strict loading right after mmengine's RuntimeInfoHook, the NaN guard (HIGH) before
    # every NORMAL hook (timer, EMA, ...), so a stopped step is never logged as done.
    assert types[:4] == ['RuntimeInfoHook', 'ReseedHook', 'StrictLoadHook', 'NonFiniteLossHook']
    assert len(set(types)) == len(types)


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_non_finite_steps_are_skipped_by_the_readme_option(config):
    cfg = load_run_config(config, {'default_hooks.non_finite_loss.skip': True})
    assert cfg.default_hooks.non_finite_loss == dict(type='NonFiniteLossHook', skip=True)


def test_a_dumped_config_run_again_has_one_strict_load_hook(tmp_path):
    """The runner writes its config to the work dir; the tools may be given that file again."""
    work_dir = str(tmp_path / 'work')
    config = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
    Runner.from_cfg(load_run_config(config, work_dir=work_dir))
    cfg = load_run_config(osp.join(work_dir, osp.basename(config)), work_dir=work_dir)
    assert cfg.default_hooks.strict_load.type == 'StrictLoadHook'
    assert not cfg.get('custom_hooks')
