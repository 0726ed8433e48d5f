"""Fine-tuning with ``load_from`` from a checkpoint trained on other classes (mmdet's recipe: load
a COCO model, set ``num_classes``): the class-dependent layers whose shapes differ are
re-initialised with one log line naming them; everything else stays strict, and tools/test.py,
``--resume`` and the Python APIs stay strict throughout.

One tools/train.py run end to end; the other models go through the runner's own
``Runner.load_checkpoint`` (what ``load_from``, ``--resume`` and tools/test.py call) with the
hook, which is faster than a run and the same code.
"""
import logging
import math
import os
import os.path as osp
import subprocess
import sys
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.engine import StrictLoadHook, load_model_checkpoint
from lsnet_dense.engine.strict_loading import CLASS_DEPENDENT_LAYERS, read_model_checkpoint
from lsnet_dense.errors import CheckpointMismatchError
from helpers import ROOT, load_tool, published_dense, refusal_of

CONFIGS = osp.join(ROOT, 'configs')
DEMO_CONFIG = osp.join(CONFIGS, 'demo', 'retinanet_lsnet_t_demo.py')
NO_PRETRAINED = {'model.backbone.init_cfg': None}  # no ImageNet file here
# The demo detector of one class instead of its three: 9 anchors x 1 class scores, not 9 x 3.
ONE_CLASS = {'model.bbox_head.num_classes': 1}
REINITIALISED = 'fine-tuning: re-initialised the class-dependent layers that differ in shape: '


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One intra-op thread, here and in the tools' processes: beside the other processes of a
    2-core machine, OpenMP's threads wait on each other (the fine-tuning step took 0.3 to 23 s
    with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def is_class_dependent(key):
    return key.removeprefix('module.').rpartition('.')[0] in CLASS_DEPENDENT_LAYERS


def trained_state(model, seed=0):
    """The model's tensors with every parameter moved a little: what training leaves, unlike any
    fresh initialisation, so that loaded values are told apart from initial ones."""
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    return {k: v + 0.01 * torch.randn(v.shape, generator=gen) if k in params else v.clone()
            for k, v in model.state_dict().items()}


class LogRecorder(logging.Handler):
    """The messages of mmengine's current logger while attached (where print_log(logger=
    'current') writes)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        MMLogger.get_current_instance().addHandler(self)
        return self.messages

    def __exit__(self, *exc_info):
        MMLogger.get_current_instance().removeHandler(self)


def load_as_the_runner(model, path, hook):
    """``Runner.load_checkpoint(path)`` on ``model`` with ``hook`` registered: the checkpoint
    read through mmengine's loader (published files converted), ``after_load_checkpoint``, then
    mmengine's own ``strict=False`` copy. Returns the log messages."""
    stand_in = types.SimpleNamespace(model=model, cfg=Config(dict(load_from=path)),
                                     logger=MMLogger.get_current_instance(), _has_loaded=False)
    stand_in.call_hook = lambda name, **kwargs: getattr(hook, name)(stand_in, **kwargs)
    with LogRecorder() as messages:
        Runner.load_checkpoint(stand_in, path)
    return messages


def reinitialisation_line(messages):
    lines = [m for m in messages if REINITIALISED in m]
    assert len(lines) == 1, messages
    return lines[0]


def shapes_named(model_state, checkpoint_state, key):
    return (f'{key} {tuple(checkpoint_state[key].shape)} in the checkpoint, '
            f'{tuple(model_state[key].shape)} in the model')


def check_fine_tuned(model, before, checkpoint_state, expected_layers, line, path):
    """The log line names exactly ``expected_layers`` (weight and bias, both shapes); those keep
    the model's values of ``before`` loading, every other tensor is the checkpoint's."""
    checkpoint_state = {k.removeprefix('module.'): v for k, v in checkpoint_state.items()}
    reinitialised = [f'{layer}.{kind}' for layer in expected_layers for kind in ('weight', 'bias')]
    assert line.startswith(f'load_from {path}: {REINITIALISED}')
    assert line.count(' in the checkpoint, ') == len(reinitialised)
    for key in reinitialised:
        assert shapes_named(before, checkpoint_state, key) in line
    for key, value in model.state_dict().items():
        expected = before[key] if key in reinitialised else checkpoint_state[key]
        assert torch.equal(value, expected), key


# --- end to end: tools/train.py with load_from ---------------------------------------------

@pytest.fixture(scope='module')
def one_class_checkpoint(tmp_path_factory):
    """A training state of the demo detector trained on one class (``message_hub``: what
    ``--resume`` takes), and its tensors."""
    state = trained_state(build_model_from_config(DEMO_CONFIG, ONE_CLASS)[0])
    path = str(tmp_path_factory.mktemp('ckpt') / 'one_class.pth')
    torch.save({'state_dict': state, 'meta': {}, 'message_hub': {}}, path)
    return path, state


def train_options(root):
    """One iteration on the four images at 64x64, no validation."""
    return [f'train_dataloader.dataset.data_root={root}/', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=4',
            'train_dataloader.dataset.pipeline.2.scale=(64,64)', 'train_cfg.max_epochs=1',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def evaluation_options(root):
    return [f'test_dataloader.dataset.data_root={root}/', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False',
            f'test_evaluator.ann_file={root}/annotations/instances_val.json']


@pytest.fixture(scope='module')
def fine_tuned(one_thread, tiny_coco, one_class_checkpoint, tmp_path_factory):
    """tools/train.py on the demo's three classes from the one-class checkpoint, learning rate 0
    so that the saved epoch_1.pth holds the weights as loaded. Returns (work dir, log)."""
    path, _ = one_class_checkpoint
    work_dir = str(tmp_path_factory.mktemp('fine_tuned'))
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), DEMO_CONFIG, '--work-dir', work_dir,
         '--cfg-options', *train_options(tiny_coco), 'optim_wrapper.optimizer.lr=0',
         'param_scheduler=None', 'default_hooks.checkpoint.interval=1', f'load_from={path}'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return work_dir, log


def test_train_load_from_reinitialises_the_class_layer(fine_tuned, one_class_checkpoint):
    work_dir, log = fine_tuned
    path, loaded = one_class_checkpoint
    line = reinitialisation_line(log.splitlines())
    assert line.endswith(f'load_from {path}: {REINITIALISED}'
                         'bbox_head.retina_cls.weight (9, 64, 3, 3) in the checkpoint, '
                         '(27, 64, 3, 3) in the model; '
                         'bbox_head.retina_cls.bias (9,) in the checkpoint, (27,) in the model')
    saved = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    model = build_model_from_config(DEMO_CONFIG)[0]
    # Learning rate 0: the parameters are as loaded (the BatchNorm statistics move on).
    for key, _ in model.named_parameters():
        if not is_class_dependent(key):
            assert torch.equal(saved[key], loaded[key]), key
    # The class scores of three classes, freshly initialised as mmdet's RetinaHead does: bias
    # for a prior probability of 0.01.
    assert saved['bbox_head.retina_cls.weight'].shape == (27, 64, 3, 3)
    assert torch.allclose(saved['bbox_head.retina_cls.bias'], torch.tensor(-math.log(99.0)))


def test_testing_a_checkpoint_of_other_classes_stays_strict(fine_tuned, one_class_checkpoint,
                                                            tiny_coco, tmp_path, monkeypatch):
    """tools/test.py with the config the fine-tuning run dumped (which holds the permissive
    hook), and the Python API, refuse the one-class checkpoint for the three-class model."""
    work_dir, _ = fine_tuned
    path, _ = one_class_checkpoint
    dumped = osp.join(work_dir, osp.basename(DEMO_CONFIG))
    assert Config.fromfile(dumped).default_hooks.strict_load.allow_new_classes is True
    expected = (f'{path} does not fit the model of this config (another variant or model?): '
                'bbox_head.retina_cls.weight has shape (9, 64, 3, 3) in the checkpoint and '
                '(27, 64, 3, 3) in the model (and 1 more tensors that do not fit)')
    error = refusal_of('test', dumped, path, '--work-dir', tmp_path, '--cfg-options',
                       *evaluation_options(tiny_coco), monkeypatch=monkeypatch)
    assert error == f'error: {expected}'
    assert not osp.exists(tmp_path / 'test_metrics.json')
    with pytest.raises(CheckpointMismatchError) as refused:
        load_model_checkpoint(build_model_from_config(DEMO_CONFIG)[0], path)
    assert str(refused.value) == expected


def test_resume_with_other_classes_stays_strict(one_class_checkpoint, tiny_coco, tmp_path,
                                                monkeypatch):
    """tools/train.py makes the hook permissive for load_from alone; --resume of a checkpoint
    of other classes is refused naming the class layer."""
    path, _ = one_class_checkpoint
    train = load_tool('train')
    options = ['--work-dir', str(tmp_path), '--cfg-options', *train_options(tiny_coco)]
    for argv, permissive in (([*options, f'load_from={path}'], True),
                             ([*options, 'load_from=None'], None),
                             (['--resume', path, *options], None)):
        monkeypatch.setattr(sys, 'argv', ['train.py', DEMO_CONFIG, *argv])
        hook = train.build_config(train.parse_args()).default_hooks.strict_load
        assert hook.get('allow_new_classes') is permissive, argv
    error = refusal_of('train', DEMO_CONFIG, '--resume', path, *options, monkeypatch=monkeypatch)
    assert error.startswith(f'error: {path} does not fit the model of this config')
    assert 'bbox_head.retina_cls.weight has shape (9, 64, 3, 3) in the checkpoint' in error
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.pth')]


# --- the other heads, through the runner's loading ------------------------------------------

def test_mask_rcnn_of_coco_fine_tuned_on_three_classes(reference_shapes, tmp_path):
    """A published mmdet 2.x Mask R-CNN (80 classes), converted on load: the class scores, the
    per-class boxes and the per-class masks are re-initialised."""
    config = osp.join(CONFIGS, 'mask_rcnn_lsnet_t_coco.py')
    coco = build_model_from_config(config, NO_PRETRAINED)[0]
    path = str(tmp_path / 'mask_rcnn_lsnet_t.pth')
    torch.save(published_dense(reference_shapes, 'mask_rcnn', 't', coco), path)
    model = build_model_from_config(config, dict(NO_PRETRAINED, **{
        'model.roi_head.bbox_head.num_classes': 3, 'model.roi_head.mask_head.num_classes': 3}))[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    messages = load_as_the_runner(model, path, StrictLoadHook(allow_new_classes=True))
    assert any('converted in memory from the mmcv 1.x layout' in m for m in messages)
    line = reinitialisation_line(messages)
    assert 'roi_head.bbox_head.fc_reg.weight (320, 1024) in the checkpoint, (12, 1024)' in line
    check_fine_tuned(model, before, read_model_checkpoint(path)['state_dict'],
                     ['roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg',
                      'roi_head.mask_head.conv_logits'], line, path)


def test_semfpn_of_ade20k_fine_tuned_on_five_classes(reference_shapes, tmp_path):
    """A published mmseg 0.x Semantic FPN (150 classes), converted on load."""
    config = osp.join(CONFIGS, 'semfpn_lsnet_t_ade20k.py')
    ade20k = build_model_from_config(config, NO_PRETRAINED)[0]
    path = str(tmp_path / 'semfpn_lsnet_t.pth')
    torch.save(published_dense(reference_shapes, 'semfpn', 't', ade20k), path)
    model = build_model_from_config(
        config, dict(NO_PRETRAINED, **{'model.decode_head.num_classes': 5}))[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    messages = load_as_the_runner(model, path, StrictLoadHook(allow_new_classes=True))
    check_fine_tuned(model, before, read_model_checkpoint(path)['state_dict'],
                     ['decode_head.conv_seg'], reinitialisation_line(messages), path)


def test_upernet_of_a_ddp_run_fine_tuned_on_five_classes(tmp_path, capsys):
    """UperNet's decode and auxiliary heads, keys with the ``module.`` prefix of a DDP run; no
    mismatch warning of mmengine's own loading is left over."""
    config = osp.join(CONFIGS, 'upernet_lsnet_t_ade20k.py')
    state = trained_state(build_model_from_config(config, NO_PRETRAINED)[0])
    path = str(tmp_path / 'upernet_ddp.pth')
    torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}, 'meta': {}}, path)
    model = build_model_from_config(config, dict(NO_PRETRAINED, **{
        'model.decode_head.num_classes': 5, 'model.auxiliary_head.num_classes': 5}))[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    capsys.readouterr()
    messages = load_as_the_runner(model, path, StrictLoadHook(allow_new_classes=True))
    check_fine_tuned(model, before, state, ['decode_head.conv_seg', 'auxiliary_head.conv_seg'],
                     reinitialisation_line(messages), path)
    assert 'do not match exactly' not in capsys.readouterr().out


# --- what fine-tuning does not excuse ---------------------------------------------------------

def first_problem(model_state, checkpoint_state):
    """The message part of the first tensor, in the model's order, outside the class layers,
    whose shape differs."""
    key = next(k for k, v in model_state.items()
               if not is_class_dependent(k) and checkpoint_state[k].shape != v.shape)
    return (f'{key} has shape {tuple(checkpoint_state[key].shape)} in the checkpoint and '
            f'{tuple(model_state[key].shape)} in the model')


@pytest.fixture(scope='module')
def demo_model():
    return build_model_from_config(DEMO_CONFIG)[0]


@pytest.mark.parametrize('options, first_key', [
    (dict(ONE_CLASS, **{'model.backbone.arch': 's'}), 'backbone.'),
    (dict(ONE_CLASS, **{'model.neck.out_channels': 32, 'model.bbox_head.in_channels': 32}),
     'neck.')], ids=['lsnet_s_backbone', 'neck_width'])
def test_other_layers_must_still_fit(options, first_key, demo_model):
    checkpoint = build_model_from_config(DEMO_CONFIG, options)[0].state_dict()
    expected = first_problem(demo_model.state_dict(), checkpoint)
    assert expected.startswith(first_key)
    runner = types.SimpleNamespace(model=demo_model, cfg=Config(dict(load_from='other.pth')))
    with pytest.raises(CheckpointMismatchError, match='other.pth does not fit') as error:
        StrictLoadHook(allow_new_classes=True).after_load_checkpoint(
            runner, {'state_dict': checkpoint})
    assert expected in str(error.value)


def test_a_class_layer_missing_from_the_checkpoint_is_an_error(demo_model, one_class_checkpoint):
    """Only a shape that differs is re-initialised: the weight here (reported by the log line),
    not the bias the checkpoint lacks."""
    state = dict(one_class_checkpoint[1])
    del state['bbox_head.retina_cls.bias']
    runner = types.SimpleNamespace(model=demo_model, cfg=Config(dict(load_from='one_class.pth')))
    with pytest.raises(CheckpointMismatchError) as error:
        StrictLoadHook(allow_new_classes=True).after_load_checkpoint(
            runner, {'state_dict': state})
    assert str(error.value).endswith(
        ': bbox_head.retina_cls.bias (27,) is missing from the checkpoint')
