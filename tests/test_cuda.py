"""On a CUDA device: SKA's Triton kernels, the backbone, neck and configs, mixed precision.

Skipped where no CUDA device is present (as in CI). Float32 comparisons turn TF32 off, so that
they measure the implementation rather than the reduced-precision matrix units.
"""
import copy
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs

from lsnet_dense import LSNet
from lsnet_dense.models.layers import Attention
from lsnet_dense.ops import ska, ska_torch
from helpers import (COCO_CONFIGS, NECK_SETTINGS, ROOT, build_detector, build_neck,
                     build_segmentor, load_seg_config, random_state_dict, randomised_lsnet,
                     seg_loss_and_predict)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')

# SKA's inputs in LSNet-T at 1333x800 (padded to 1344x800), batch 2: stages 2 and 3.
LSNET_T_SKA_SHAPES = [(2, 128, 16, 50, 84), (2, 256, 32, 25, 42)]


@pytest.fixture(autouse=True)
def no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def relative_error(got, expected):
    got, expected = got.double().cpu(), expected.double().cpu()
    return ((got - expected).norm() / expected.norm()).item()


def ska_inputs(batch, channels, groups, height, width, dtype, kernel=3, seed=0):
    gen = torch.Generator(device='cuda').manual_seed(seed)
    x = torch.randn(batch, channels, height, width, generator=gen, device='cuda', dtype=dtype)
    w = torch.randn(batch, groups, kernel * kernel, height, width, generator=gen, device='cuda',
                    dtype=dtype)
    grad = torch.randn(batch, channels, height, width, generator=gen, device='cuda', dtype=dtype)
    return x, w, grad


def forward_backward(function, x, w, grad):
    x = x.detach().requires_grad_()
    w = w.detach().requires_grad_()
    out = function(x, w)
    return (out, *torch.autograd.grad(out, (x, w), grad))


def test_ska_runs_the_triton_kernels_on_cuda(monkeypatch):
    import lsnet_dense.ops.ska_triton as ska_triton_module
    calls = []
    original = ska_triton_module.ska_triton
    monkeypatch.setattr(ska_triton_module, 'ska_triton',
                        lambda *args: calls.append(1) or original(*args))
    x, w, _ = ska_inputs(1, 16, 2, 5, 5, torch.float32)
    ska(x, w)
    assert calls == [1]


@pytest.mark.parametrize('dtype,tolerance', [(torch.float64, 1e-13), (torch.float32, 1e-6)])
@pytest.mark.parametrize('shape', LSNET_T_SKA_SHAPES + [
    (1, 24, 8, 7, 9), (3, 16, 2, 1, 1), (1, 64, 1, 33, 65), (2, 96, 12, 300, 17)])
def test_ska_triton_equals_ska_torch(shape, dtype, tolerance):
    x, w, grad = ska_inputs(*shape, torch.float64)
    expected = forward_backward(ska_torch, x, w, grad)
    got = forward_backward(ska, x.to(dtype), w.to(dtype), grad.to(dtype))
    for name, a, b in zip(('output', 'grad x', 'grad weights'), got, expected):
        assert a.dtype == dtype
        assert relative_error(a, b) < tolerance, name


def test_ska_triton_kernel_size_five():
    x, w, grad = ska_inputs(2, 40, 8, 13, 5, torch.float64, kernel=5)
    for a, b in zip(forward_backward(ska, x, w, grad), forward_backward(ska_torch, x, w, grad)):
        assert relative_error(a, b) < 1e-13


@pytest.mark.parametrize('dtype,tolerance', [(torch.float16, 2e-3), (torch.bfloat16, 1.5e-2)])
def test_ska_half_precision_close_to_float64(dtype, tolerance):
    x, w, grad = ska_inputs(*LSNET_T_SKA_SHAPES[0], torch.float64)
    expected = forward_backward(ska_torch, x, w, grad)
    got = forward_backward(ska, x.to(dtype), w.to(dtype), grad.to(dtype))
    for a, b in zip(got, expected):
        assert a.dtype == dtype and torch.isfinite(a).all()
        assert relative_error(a, b) < tolerance


def test_ska_mixed_dtypes_promote_like_ska_torch():
    # Under autocast LSNet feeds float32 features with float16 filters.
    x, w, grad = ska_inputs(2, 32, 4, 9, 11, torch.float32)
    w = w.half()
    got, expected = ska(x, w), ska_torch(x, w)
    assert got.dtype == expected.dtype == torch.float32
    assert relative_error(got, expected) < 1e-6
    x = x.requires_grad_()
    w = w.requires_grad_()
    gx, gw = torch.autograd.grad(ska(x, w), (x, w), grad)
    assert gx.dtype == torch.float32 and gw.dtype == torch.float16


@pytest.mark.parametrize('arch', ['t', 's', 'b'])
def test_backbone_on_cuda_equals_cpu(arch, reference_shapes):
    shapes = reference_shapes['backbone_detection'][f'lsnet_{arch}']
    model = randomised_lsnet(arch, shapes).double()
    x = torch.randn(2, 3, 97, 131, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
        model.cuda()
        got64 = model(x.cuda())
        got32 = model.float()(x.float().cuda())
    for a64, a32, b in zip(got64, got32, expected):
        assert relative_error(a64, b) < 1e-11
        assert relative_error(a32, b) < 1e-5


def test_backbone_gradients_on_cuda_equal_cpu(reference_shapes):
    shapes = reference_shapes['backbone_detection']['lsnet_t']
    model = randomised_lsnet('t', shapes).double().train()
    x = torch.randn(2, 3, 96, 80, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def gradients(model, x):
        outs = model(x)
        sum(out.square().mean() for out in outs).backward()
        return {name: p.grad.cpu() for name, p in model.named_parameters()}

    expected = gradients(model, x)
    model.zero_grad()
    got = gradients(model.cuda(), x.cuda())
    assert got.keys() == expected.keys()
    for name in expected:
        assert relative_error(got[name], expected[name]) < 1e-9, name


def test_switch_to_deploy_on_cuda_keeps_outputs(reference_shapes):
    model = randomised_lsnet('t', reference_shapes['backbone_detection']['lsnet_t']).cuda()
    x = torch.randn(2, 3, 96, 80, device='cuda')
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        got = model(x)
    for a, b in zip(got, expected):
        assert relative_error(a, b) < 1e-5


@pytest.mark.parametrize('task', sorted(NECK_SETTINGS))
def test_neck_on_cuda_equals_cpu(task):
    torch.manual_seed(0)
    backbone, neck = LSNet('t').eval(), build_neck(task, 't').eval()
    x = torch.randn(1, 3, 200, 136)
    with torch.no_grad():
        expected = neck(backbone(x))
        got = neck.cuda()(backbone.cuda()(x.cuda()))
    assert len(got) == len(NECK_SETTINGS[task][1])
    for a, b in zip(got, expected):
        assert a.shape == b.shape and relative_error(a, b) < 1e-5


def detection_batch(with_mask):
    torch.manual_seed(0)
    return demo_mm_inputs(2, [(3, 100, 140), (3, 96, 96)], num_items=[3, 2], num_classes=80,
                          with_mask=with_mask)


def total_loss(losses):
    return sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
               for k, v in losses.items() if 'loss' in k)


@pytest.mark.parametrize('config_path', COCO_CONFIGS, ids=osp.basename)
def test_detector_configs_loss_and_predict_on_cuda(config_path):
    model, _ = build_detector(config_path)
    model.cuda()
    with_mask = 'mask_rcnn' in config_path
    packed = detection_batch(with_mask)
    model.train()
    total = total_loss(model(**model.data_preprocessor(packed, True), mode='loss'))
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.blocks4[3].mixer.m.qkv.c.weight.grad is not None
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False), mode='predict')
    assert len(results) == 2 and results[0].pred_instances.bboxes.is_cuda
    if with_mask:
        assert results[0].pred_instances.masks.shape[-2:] == (100, 140)


def test_retinanet_losses_on_cuda_equal_cpu():
    # RetinaNet samples nothing at random, so both devices see the same anchors and targets.
    model, _ = build_detector(osp.join(ROOT, 'configs', 'retinanet_lsnet_t_coco.py'))
    model.train()
    packed = detection_batch(with_mask=False)
    gpu_model = copy.deepcopy(model).cuda()
    expected = model(**model.data_preprocessor(packed, True), mode='loss')
    got = gpu_model(**gpu_model.data_preprocessor(packed, True), mode='loss')
    for key in expected:
        assert relative_error(total_loss({key: got[key]}), total_loss({key: expected[key]})) < 1e-4


@pytest.mark.parametrize('name', ['semfpn_lsnet_t_ade20k.py', 'upernet_lsnet_t_ade20k.py'])
def test_segmentor_configs_loss_and_inference_on_cuda(name):
    cfg = load_seg_config(name)
    model = build_segmentor(cfg, train_size=(72, 88)).cuda()
    seg_loss_and_predict(model, [(70, 88), (61, 75)], (90, 130), cfg.model.decode_head.num_classes)


@pytest.mark.parametrize('dtype,tolerance', [(torch.float16, 1e-2), (torch.bfloat16, 5e-2)])
def test_backbone_autocast_finite_and_close_to_float32(dtype, tolerance, reference_shapes):
    model = randomised_lsnet('t', reference_shapes['backbone_detection']['lsnet_t']).cuda()
    x = torch.randn(2, 3, 224, 160, device='cuda')
    with torch.no_grad():
        expected = model(x)
        with torch.autocast('cuda', dtype=dtype):
            got = model(x)
    for a, b in zip(got, expected):
        assert torch.isfinite(a).all()
        assert relative_error(a, b) < tolerance
    model.train()
    with torch.autocast('cuda', dtype=dtype):
        loss = sum(out.float().square().mean() for out in model(x))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize('dtype,tolerance', [(torch.float16, 5e-3), (torch.bfloat16, 3e-2)])
def test_attention_autocast_finite_and_close_to_float32(dtype, tolerance):
    attention = Attention(384, 16, 4, 384 / (16 * 4))
    shapes = {k: list(v.shape) for k, v in attention.state_dict().items()}
    attention.load_state_dict(random_state_dict(shapes, seed=3))
    attention.cuda().eval()
    x = torch.randn(2, 384, 13, 21, device='cuda')  # LSNet-T's stride 64 at 1333x800
    with torch.no_grad():
        expected = attention(x)
        with torch.autocast('cuda', dtype=dtype):
            got = attention(x)
    assert torch.isfinite(got).all() and relative_error(got, expected) < tolerance


# float16 only: mmcv 2.1.0's CUDA kernels of RoIAlign and the sigmoid focal loss have no
# BFloat16 version (the backbone and attention run in bfloat16: tests above).
@pytest.mark.parametrize('config', ['mask_rcnn_lsnet_t_coco.py', 'retinanet_lsnet_t_coco.py'])
def test_detector_loss_under_autocast_is_finite(config):
    model, _ = build_detector(osp.join(ROOT, 'configs', config))
    model.cuda().train()
    packed = detection_batch(with_mask='mask_rcnn' in config)
    with torch.autocast('cuda', dtype=torch.float16):
        total = total_loss(model(**model.data_preprocessor(packed, True), mode='loss'))
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_attention_keeps_no_bias_cache_on_cuda():
    # Checking a cached bias (torch.equal) would make the host wait for the GPU at every call.
    attention = Attention(64, 16, 2, 2.0).cuda().eval()
    with torch.no_grad():
        first = attention(torch.randn(1, 64, 5, 6, device='cuda'))
        second = attention(torch.randn(1, 64, 5, 6, device='cuda'))
    assert attention._bias_cache is None
    assert first.isfinite().all() and second.isfinite().all()
