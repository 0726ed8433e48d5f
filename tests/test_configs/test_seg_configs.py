"""The ADE20K segmentation configs: recipes, inheritance, and a loss and inference step each."""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from lsnet_dense import LSNet
from lsnet_dense.checkpoints.hub import hub_url
from lsnet_dense.datasets.demo_ade20k import make_scene
from helpers import build_segmentor, load_seg_config, seg_batch, seg_loss_and_predict

ARCHS = ('t', 's', 'b')
SEMFPN = [f'semfpn_lsnet_{a}_ade20k.py' for a in ARCHS]
UPERNET = [f'upernet_lsnet_{a}_ade20k.py' for a in ARCHS]
DEMO = 'demo/semfpn_lsnet_t_demo_ade20k.py'


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One intra-op thread: at these tensor sizes a second one only adds synchronisation, which
    costs seconds per step when other processes hold the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('name', SEMFPN + UPERNET + [DEMO])
def test_loss_and_inference_at_sizes_not_multiple_of_32(name):
    cfg = load_seg_config(name)
    model = build_segmentor(cfg, train_size=(72, 88))
    num_classes = cfg.model.decode_head.num_classes
    # Crops smaller than the padded size, odd test sizes: every stride-2 step rounds.
    seg_loss_and_predict(model, [(70, 88), (61, 75)], (90, 130), num_classes)


def test_upernet_slide_and_whole_inference_agree_in_shape():
    cfg = load_seg_config('upernet_lsnet_t_ade20k.py')
    assert cfg.model.test_cfg.mode == 'slide'
    model = build_segmentor(cfg, train_size=(64, 64)).eval()
    data = seg_batch([(100, 150)], 150)
    with torch.no_grad():
        # Several overlapping windows, the last ones clipped at the border.
        model.test_cfg = ConfigDict(mode='slide', crop_size=(64, 64), stride=(43, 43))
        slide = model.test_step(data)[0].seg_logits.data
        model.test_cfg = ConfigDict(mode='whole')
        whole = model.test_step(data)[0].seg_logits.data
    assert slide.shape == whole.shape == (150, 100, 150)
    assert torch.isfinite(slide).all()


@pytest.mark.parametrize('name', SEMFPN + UPERNET)
def test_test_pipeline_aligns_to_32_and_keeps_the_label_at_original_size(name, tmp_path):
    image, label = make_scene(np.random.default_rng(0), 120, 170)
    cv2.imwrite(str(tmp_path / 'x.jpg'), image)
    cv2.imwrite(str(tmp_path / 'x.png'), label)
    cfg = load_seg_config(name)
    with DefaultScope.overwrite_default_scope('mmseg'):
        pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    packed = pipeline(dict(img_path=str(tmp_path / 'x.jpg'), seg_map_path=str(tmp_path / 'x.png'),
                           reduce_zero_label=True, seg_fields=[]))
    h, w = packed['inputs'].shape[1:]
    assert h % 32 == 0 and w % 32 == 0
    # 2048x512 keeping the ratio: the short side 512 before alignment.
    assert abs(h - 512) < 32 and abs(w - 170 * 512 / 120) < 32
    assert packed['data_samples'].gt_sem_seg.data.shape[1:] == (120, 170)


def test_semfpn_recipe():
    cfg = load_seg_config('semfpn_lsnet_t_ade20k.py')
    model = cfg.model
    assert model.backbone.type == 'LSNet' and model.backbone.arch == 't'
    assert model.backbone.norm_eval and model.backbone.frozen_stages == -1
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint=hub_url('lsnet_t.pth'))
    assert model.neck.type == 'LSNetFPN' and model.neck.num_outs == 4
    assert model.neck.in_channels == list(LSNet.arch_settings['t']['embed_dims'])
    head = model.decode_head
    assert head.type == 'FPNHead' and head.feature_strides == [8, 16, 32, 64]
    assert head.num_classes == 150 and model.test_cfg.mode == 'whole'
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    [poly] = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min, poly.end) == ('PolyLR', 0.9, 1e-6, 40000)
    assert cfg.train_cfg.max_iters == 40000
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 32
    check_ade20k_train_pipeline(cfg)


def test_upernet_recipe():
    cfg = load_seg_config('upernet_lsnet_t_ade20k.py')
    model = cfg.model
    assert model.decode_head.type == 'UPerHead' and model.decode_head.pool_scales == (1, 2, 3, 6)
    assert model.decode_head.in_channels == list(LSNet.arch_settings['t']['embed_dims'])
    assert model.decode_head.in_index == [0, 1, 2, 3]
    aux = model.auxiliary_head
    assert (aux.type, aux.in_index, aux.in_channels) == ('FCNHead', 2, 256)
    assert aux.loss_decode.loss_weight == 0.4
    assert model.test_cfg.crop_size == (512, 512)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('AdamW', 6e-5, 0.01)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == (
        'PolyLR', 1.0, 0., 1500, 160000)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    check_ade20k_train_pipeline(cfg)


def check_ade20k_train_pipeline(cfg):
    steps = {step.type: step for step in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomResize'].scale == (2048, 512)
    assert steps['RandomResize'].ratio_range == (0.5, 2.0)
    assert steps['RandomCrop'].crop_size == (512, 512) == cfg.model.data_preprocessor.size
    assert {'RandomFlip', 'PhotoMetricDistortion'} <= set(steps)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.test_evaluator.type == 'PerClassIoUMetric'
    # The toolkit's safeguards, as in the detection configs.
    assert cfg.optim_wrapper.type == 'FiniteLossOptimWrapper'
    assert cfg.default_hooks.reseed.type == 'ReseedHook'
    assert cfg.default_hooks.non_finite_loss == dict(type='NonFiniteLossHook', skip=False)
    assert cfg.default_hooks.checkpoint.backend_args.backend == 'atomic_local'


def without(cfg_dict, *paths):
    """A copy of a config dict with the dotted paths removed."""
    result = copy.deepcopy(cfg_dict.to_dict() if hasattr(cfg_dict, 'to_dict') else cfg_dict)
    for path in paths:
        *parents, leaf = path.split('.')
        node = result
        for key in parents:
            node = node[key]
        node.pop(leaf)
    return result


@pytest.mark.parametrize('family, differing', [
    ('semfpn', ['model.backbone.arch', 'model.backbone.init_cfg.checkpoint',
                'model.neck.in_channels']),
    ('upernet', ['model.backbone.arch', 'model.backbone.init_cfg.checkpoint',
                 'model.decode_head.in_channels', 'model.auxiliary_head.in_channels']),
])
@pytest.mark.parametrize('arch', ['s', 'b'])
def test_variants_differ_from_t_only_in_arch_weights_and_channels(family, differing, arch):
    tiny = load_seg_config(f'{family}_lsnet_t_ade20k.py')
    variant = load_seg_config(f'{family}_lsnet_{arch}_ade20k.py')
    assert variant.model.backbone.arch == arch
    assert variant.model.backbone.init_cfg.checkpoint == hub_url(f'lsnet_{arch}.pth')
    dims = list(LSNet.arch_settings[arch]['embed_dims'])
    if family == 'semfpn':
        assert variant.model.neck.in_channels == dims
    else:
        assert variant.model.decode_head.in_channels == dims
        assert variant.model.auxiliary_head.in_channels == dims[2]
    assert without(variant._cfg_dict, *differing) == without(tiny._cfg_dict, *differing)
