"""The config of a tool's run: read, ``--cfg-options`` applied, checked to be of a task the tool
serves, and for a runner the work dir, launcher and strict checkpoint loading set."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from lsnet_dense.errors import PreflightError

TASK_OF_SCOPE = {'mmdet': 'detection', 'mmseg': 'segmentation'}


def load_config(path: str, cfg_options: Optional[dict] = None,
                scopes: Sequence[str] = tuple(TASK_OF_SCOPE)) -> Config:
    """Read a config, apply ``--cfg-options``, and check it is of a task the tool serves."""
    if not osp.isfile(path):
        raise PreflightError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in scopes:
        served = ', '.join(f'{TASK_OF_SCOPE.get(s, s)} (default_scope={s!r})' for s in scopes)
        raise PreflightError(f'{path} is not a config this tool serves: its default_scope is '
                             f'{scope!r}; expected {served}')
    return cfg


def load_run_config(path: str, cfg_options: Optional[dict] = None,
                    work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """:func:`load_config` for a runner: work dir (default ``work_dirs/CONFIG_NAME``), launcher,
    and strict loading of whole-model checkpoints (``StrictLoadHook``, as
    ``default_hooks.strict_load``)."""
    cfg = load_config(path, cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(path))[0])
    # A key, not an entry of custom_hooks: the config the runner dumps into the work dir, given
    # to the tools again, still has one StrictLoadHook, and custom_hooks stays the user's own.
    # Always a fresh, strict one: a fine-tuning run dumps allow_new_classes=True (set by
    # tools/train.py), which must not carry over into tools/test.py or --resume.
    cfg.default_hooks = dict(cfg.get('default_hooks') or {},
                             strict_load=dict(type='StrictLoadHook'))
    return cfg
