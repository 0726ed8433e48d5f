"""Helpers shared by the tests: the repository's paths, random published-shape weights, BatchNorm
calibration, models built from the configs, loading a tool as a module, small configs.

OpenMMLab is imported inside the functions that need it: tests/test_models/test_torch_only.py
imports this module in an interpreter where mmengine, mmcv, mmdet and mmseg cannot be imported.
"""
import contextlib
import copy
import functools
import glob
import importlib.util
import math
import os.path as osp
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from lsnet_dense import LSNet
from reference_lsnet import bias_index as relative_offset_index

TESTS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(TESTS)  # the repository
REFERENCE_JSON = Path(TESTS, 'data', 'lsnet_official_state_dict_shapes.json')
COCO_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*_coco.py')))


def random_state_dict(shapes, seed=0):
    """A state dict with the given shapes and random, well-conditioned values.

    BatchNorm statistics and scales are randomised too, so every branch contributes (the
    published init zeroes some BN scales). Attention-bias indices get their true values.
    """
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith('attention_bias_idxs'):
            state[key] = relative_offset_index(math.isqrt(shape[0]))
        elif key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(0)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith(('running_mean', '.bias')):
            state[key] = torch.randn(shape, generator=gen) * 0.1
        elif key.endswith(('qkv.bn.weight', 'dw.bn.weight', 'pw2.bn.weight', 'proj.1.bn.weight',
                           'mixer.bn.weight')):
            # Modest residual-branch and query/key scales, as in trained networks: full-size
            # random ones make activations grow block after block and saturate the softmax
            # (logits in the hundreds), so float32 rounding gets amplified.
            state[key] = torch.rand(shape, generator=gen) * 0.2 + 0.1
        elif key.endswith('bn.weight') or key.endswith('norm.weight'):
            state[key] = torch.rand(shape, generator=gen) * 0.5 + 0.5
        elif key.endswith('attention_biases'):
            state[key] = torch.randn(shape, generator=gen)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=gen) / fan_in**0.5
    return state


COCO_CLASSES = tuple(f'class{i}' for i in range(80))
ADE20K_CLASSES = tuple(f'stuff{i}' for i in range(150))


def _optimizer_state(tensors, optimizer=torch.optim.AdamW, **settings):
    """A real optimizer state dict (after one step) for ``tensors``: the structure a training
    script saves, over a few tensors only to keep the test files small."""
    params = [torch.nn.Parameter(t.detach().clone().float()) for t in tensors]
    opt = optimizer(params, **settings)
    for param in params:
        param.grad = torch.ones_like(param)
    opt.step()
    return opt.state_dict()


def published_classification(reference_shapes, arch, distill=False, seed=0):
    """A classification checkpoint as the release's DeiT-style ``main.py`` writes it.

    ``model``: the weights, with the DDP ``module.`` prefix; ``model_ema``: their EMA (same
    values here); ``optimizer`` (AdamW), ``lr_scheduler`` (timm's cosine schedule) and
    ``scaler`` (the AMP scaler) states; ``epoch``; ``args``: the command line as an
    ``argparse.Namespace``.

    Returns:
        (checkpoint, the tensors without prefix)
    """
    import argparse

    from timm.scheduler import CosineLRScheduler

    kind = 'classification_distill' if distill else 'classification'
    stored = random_state_dict(reference_shapes[kind][f'lsnet_{arch}'], seed=seed)
    optimizer = _optimizer_state(list(stored.values())[:4], lr=4e-3, weight_decay=0.025)
    params = [torch.nn.Parameter(torch.zeros(1))]
    scheduler = CosineLRScheduler(torch.optim.AdamW(params, lr=4e-3), t_initial=300,
                                  lr_min=1e-5, warmup_lr_init=1e-6, warmup_t=5)
    args = argparse.Namespace(
        batch_size=256, epochs=300, model=f'lsnet_{arch}', input_size=224, drop=0.0,
        drop_path=0.0, model_ema=True, model_ema_decay=0.99996, opt='adamw', opt_eps=1e-8,
        opt_betas=None, clip_grad=0.02, weight_decay=0.025, sched='cosine', lr=4e-3,
        warmup_lr=1e-6, min_lr=1e-5, warmup_epochs=5, smoothing=0.1, mixup=0.8, cutmix=1.0,
        distillation_type='hard' if distill else 'none', teacher_model='regnety_160',
        data_path='/data/imagenet', data_set='IMNET', output_dir=f'output/lsnet_{arch}',
        device='cuda', seed=0, resume='', start_epoch=0, dist_eval=True, num_workers=10,
        world_size=8, dist_url='env://', distributed=True, gpu=0, rank=0)
    checkpoint = {
        'model': {f'module.{k}': v for k, v in stored.items()},
        'model_ema': {k: v.clone() for k, v in stored.items()},
        'optimizer': optimizer,
        'lr_scheduler': scheduler.state_dict(),
        'scaler': {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5,
                   'growth_interval': 2000, '_growth_tracker': 0},
        'epoch': 299,
        'args': args,
    }
    return checkpoint, stored


def _head_tensor(key, like, gen):
    """A random head tensor shaped as ``like``: small weights (so that a detector with them
    finds boxes), BatchNorm statistics of an untrained layer."""
    if key.endswith('running_var'):
        return torch.ones_like(like)
    if not like.is_floating_point() or key.endswith('running_mean'):
        return torch.zeros_like(like)
    return torch.randn(like.shape, generator=gen) * 0.02


def published_dense(reference_shapes, task, arch, model, seed=0):
    """A detection / segmentation checkpoint as mmcv 1.x writes it (mmdet 2.x, mmseg 0.x).

    ``state_dict``: backbone and neck from the published shapes, heads with the names and shapes
    of ``model`` (the 3.x heads name them as 2.x did); ``optimizer`` (AdamW); ``meta`` with
    ``env_info``, the ``config`` text, ``CLASSES`` (and ``PALETTE`` for segmentation), the
    ``mmdet_version`` / ``mmseg_version``, ``epoch``, ``iter`` and ``hook_msgs``.
    """
    import collections

    state = collections.OrderedDict((f'backbone.{k}', v) for k, v in random_state_dict(
        reference_shapes['backbone_detection'][f'lsnet_{arch}'], seed=seed).items())
    state.update((f'neck.{k}', v) for k, v in random_state_dict(
        reference_shapes['neck'][f'{task}_lsnet_{arch}'], seed=seed + 1).items())
    gen = torch.Generator().manual_seed(seed + 2)
    state.update((k, _head_tensor(k, v, gen)) for k, v in model.state_dict().items()
                 if not k.startswith(('backbone.', 'neck.')))
    work_dir = f'work_dirs/{task}_lsnet_{arch}'
    meta = {'env_info': 'sys.platform: linux\nPython: 3.8.13\nCUDA available: True\n'
                        'GPU 0,1,2,3,4,5,6,7: NVIDIA A100-SXM4-80GB\nPyTorch: 1.12.1\n'
                        'MMCV: 1.7.1\nMMCV Compiler: GCC 9.3',
            'config': f"model = dict(backbone=dict(type='lsnet_{arch}'))\n",
            'seed': 0, 'exp_name': f'{task}_lsnet_{arch}.py', 'mmcv_version': '1.7.1',
            'time': 'Fri Mar 28 10:21:43 2025'}
    if task == 'semfpn':
        meta.update(mmseg_version='0.30.0+', CLASSES=ADE20K_CLASSES,
                    PALETTE=[[(i * 7) % 256, (i * 11) % 256, (i * 13) % 256]
                             for i in range(150)],
                    epoch=1, iter=40000, hook_msgs={'last_ckpt': f'{work_dir}/iter_40000.pth'})
    else:
        meta.update(mmdet_version='2.25.0', CLASSES=COCO_CLASSES, epoch=12, iter=87960,
                    hook_msgs={'last_ckpt': f'{work_dir}/epoch_12.pth'})
    optimizer = _optimizer_state(list(state.values())[:4], lr=1e-4, weight_decay=0.05)
    return {'meta': meta, 'state_dict': state, 'optimizer': optimizer}


class _RunsCommand:
    """What an attacker pickles: loading it runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}',)


def write_malicious_checkpoint(path, marker):
    """A file that looks like an mmdet checkpoint and creates ``marker`` when unpickled."""
    torch.save({'meta': {'epoch': 12, 'note': _RunsCommand(marker)},
                'state_dict': {'backbone.patch_embed.0.c.weight': torch.zeros(16, 3, 3, 3)}},
               path)
    return str(path)


@torch.no_grad()
def calibrate_batchnorm(model, x):
    """Set every BatchNorm's running statistics to those of ``x``, as training would.

    Random weights otherwise let activations grow through the blocks far beyond what trained
    networks produce, and float32 comparisons then measure rounding amplification.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
        norm.train()
    model(x)
    model.eval()
    return model


def randomised_lsnet(arch, shapes):
    """An LSNet with random weights and data-calibrated BatchNorm statistics, in eval mode."""
    model = LSNet(arch)
    model.load_state_dict(random_state_dict(shapes), strict=True)
    calibration = torch.randn(8, 3, 128, 128, generator=torch.Generator().manual_seed(7))
    return calibrate_batchnorm(model, calibration)


# The neck settings of the published models (LSNET_SPEC.md) and their output strides.
NECK_SETTINGS = {
    'retinanet': (dict(start_level=0, num_outs=5, add_extra_convs='on_input'),
                  [8, 16, 32, 64, 128]),
    'mask_rcnn': (dict(start_level=0, num_outs=5, num_extra_trans_convs=1), [4, 8, 16, 32, 64]),
    'semfpn': (dict(num_outs=4), [8, 16, 32, 64]),
}

# mmdet FPN settings: published (RetinaNet, Semantic FPN, Mask R-CNN's coarse levels) and others.
FPN_SETTINGS = [
    dict(num_outs=4),
    dict(start_level=0, num_outs=5, add_extra_convs='on_input'),
    dict(num_outs=5),
    dict(start_level=1, num_outs=5, add_extra_convs='on_output', relu_before_extra_convs=True),
    dict(num_outs=6, add_extra_convs='on_lateral'),
    dict(num_outs=5, add_extra_convs=True, upsample_cfg=dict(scale_factor=2, mode='nearest')),
    dict(start_level=1, end_level=2, num_outs=2),
    dict(num_outs=4, no_norm_on_lateral=True, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')),
]


def build_neck(task, arch):
    """The published neck of ``task`` (a key of NECK_SETTINGS) on LSNet-``arch``."""
    from lsnet_dense import LSNetFPN
    return LSNetFPN(in_channels=list(LSNet.arch_settings[arch]['embed_dims']), out_channels=256,
                    **NECK_SETTINGS[task][0])


def random_fpn_state(module, seed=0):
    """The module's tensors with random values (BatchNorm variances positive)."""
    gen = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(v.shape, generator=gen) + 0.5 if k.endswith('running_var') else
                torch.randn(v.shape, generator=gen) if v.is_floating_point() else v)
            for k, v in module.state_dict().items()}


def build_detector(config_path):
    """The config's detector without pretrained weights, and the config."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(config_path)
    cfg.model.backbone.init_cfg = None  # the published weights are not available here
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model), cfg


@functools.lru_cache(maxsize=None)
def load_seg_config(name):
    """configs/NAME (shared between tests: do not modify it)."""
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def build_segmentor(cfg, train_size):
    """The config's model without pretrained weights, padding training batches to train_size."""
    from mmengine.model import revert_sync_batchnorm
    from mmseg.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.data_preprocessor.size = train_size
    # What mmengine's runner does outside distributed training.
    return revert_sync_batchnorm(MODELS.build(model_cfg))


IGNORE_INDEX = 255  # mmseg's label of pixels that no metric counts


def seg_batch(sizes, num_classes, seed=0):
    """Random uint8 images with random labels (some ignored), as a pipeline would pack them."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for h, w in sizes:
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        label = torch.randint(0, num_classes, (1, h, w), generator=gen)
        label[:, :h // 4] = IGNORE_INDEX
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def seg_loss_and_predict(model, train_sizes, test_size, num_classes):
    """A training step (finite loss, gradients down to the stem), then inference at test_size."""
    model.train()
    data = model.data_preprocessor(seg_batch(train_sizes, num_classes), training=True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed[0].c.weight.grad is not None
    model.eval()
    with torch.no_grad():
        results = model.test_step(seg_batch([test_size], num_classes, seed=1))
    assert results[0].pred_sem_seg.data.shape == (1, *test_size)
    assert results[0].seg_logits.data.shape == (num_classes, *test_size)


def confusion_matrix(predictions, labels, num_classes):
    """(num_classes, num_classes) pixel counts, rows = ground truth, ignoring IGNORE_INDEX
    pixels."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for prediction, label in zip(predictions, labels):
        keep = label != IGNORE_INDEX
        pairs = label[keep].astype(np.int64) * num_classes + prediction[keep]
        matrix += np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    return matrix


def scores_from_confusion(matrix):
    """Percent summary and per-class IoU/Acc (NaN where a ratio is 0/0)."""
    hits, truth, predicted = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = hits / (truth + predicted - hits)
        acc = hits / truth
    summary = dict(aAcc=hits.sum() / matrix.sum(), mIoU=np.nanmean(iou), mAcc=np.nanmean(acc))
    return {k: v * 100 for k, v in summary.items()}, iou * 100, acc * 100


def load_tool(path):
    """tools/PATH.py (e.g. ``'analysis_tools/get_flops'``) as a module, so tests call its
    main(argv) without a subprocess."""
    spec = importlib.util.spec_from_file_location(f'tool_{osp.basename(path)}',
                                                  osp.join(ROOT, 'tools', f'{path}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refusal_of(path, *args, monkeypatch):
    """The error with which tools/PATH.py's main() stops for these arguments, in this process.

    For refusals that come before anything is built (the pre-flight checks): a subprocess would
    spend nearly all its time importing. The tool stops with ``sys.exit('error: ...')``, which is
    what a user sees, with exit status 1; any other exception fails the test.
    """
    tool = load_tool(path)
    monkeypatch.setattr(sys, 'argv', [f'{osp.basename(path)}.py', *map(str, args)])
    with pytest.raises(SystemExit) as stopped:
        tool.main()
    assert isinstance(stopped.value.code, str), stopped.value.code  # exit status 1, a message
    return stopped.value.code


def logged_losses(work_dir):
    """{iteration: loss} from every run (timestamped folder) in ``work_dir``: mmengine's
    scalars.json of each."""
    import json
    losses = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    losses[record['iter']] = record['loss']
    return losses


def write_config(tmp_path, text, name='model_cfg.py'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# A RetinaNet on LSNet-T as the published one (neck and head settings), without datasets.
RETINANET_CONFIG = textwrap.dedent('''
    _base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
    default_scope = 'mmdet'
    custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
    model = dict(
        backbone=dict(_delete_=True, type='LSNet', arch='t', out_indices=(0, 1, 2, 3)),
        neck=dict(_delete_=True, type='LSNetFPN', in_channels=[64, 128, 256, 384],
                  out_channels=256, start_level=0, add_extra_convs='on_input', num_outs=5))
''')

# Semantic FPN on LSNet-T as published, without datasets.
SEMFPN_CONFIG = textwrap.dedent('''
    _base_ = 'mmseg::_base_/models/fpn_r50.py'
    default_scope = 'mmseg'
    custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
    norm_cfg = dict(type='BN', requires_grad=True)
    model = dict(
        pretrained=None,
        backbone=dict(_delete_=True, type='LSNet', arch='t', out_indices=(0, 1, 2, 3)),
        neck=dict(type='LSNetFPN', in_channels=[64, 128, 256, 384], out_channels=256,
                  num_outs=4),
        decode_head=dict(feature_strides=[8, 16, 32, 64], num_classes=150, norm_cfg=norm_cfg))
''')

# The same models with what inference needs: a test pipeline and a visualizer.
RETINANET_INFERENCE_CONFIG = RETINANET_CONFIG + textwrap.dedent('''
    visualizer = dict(type='DetLocalVisualizer', name='visualizer')
    test_dataloader = dict(dataset=dict(type='CocoDataset', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]))
''')
SEMFPN_INFERENCE_CONFIG = SEMFPN_CONFIG + textwrap.dedent('''
    visualizer = dict(type='SegLocalVisualizer', name='visualizer')
    test_dataloader = dict(dataset=dict(type='ADE20KDataset', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackSegInputs')]))
''')


@contextlib.contextmanager
def served_directory(directory):
    """``directory`` served over HTTP on 127.0.0.1 (a free port) while in the block; yields the
    base URL. Requests time out after 10 s; the server stops with the block."""
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        timeout = 10

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):  # keep the test output to the test's own
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.1),
                              daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
