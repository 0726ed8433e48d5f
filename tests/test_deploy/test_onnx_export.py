"""ONNX export (torch's dynamo exporter) of one model per family, run in ONNX Runtime and
compared with PyTorch; the bad-input errors of the exporter and the runtime. (The backbone's
static and dynamic exports: tests/test_deploy/test_onnx_tools.py.)"""
import json
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import ConfigDict

from lsnet_dense import LSNet
from lsnet_dense.analysis import synthetic_batch
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.deploy import (OnnxRunner, export_backbone, export_model, import_onnxruntime,
                                onnx_model_config, read_sidecar)
from lsnet_dense.deploy.export import relative_difference
from lsnet_dense.engine import load_config
from lsnet_dense.errors import PreflightError
from helpers import ROOT, write_config

SIZE = (64, 64)
# LSNet-T's widths with fewer blocks (tracing time grows with depth); every kind of block stays:
# RepVGG + squeeze-excite, LS convolution, attention.
SHALLOW = {'model.backbone.arch': dict(_delete_=True, embed_dims=[64, 128, 256, 384],
                                       depths=[0, 2, 2, 2], num_heads=[3, 3, 3, 4])}
# Slim heads: the families' graphs with small channel counts, so that exports take seconds.
SLIM_MASK_RCNN = {
    'model.neck.out_channels': 64, 'model.rpn_head.in_channels': 64,
    'model.rpn_head.feat_channels': 64,
    'model.roi_head.bbox_roi_extractor.out_channels': 64,
    'model.roi_head.bbox_head.in_channels': 64, 'model.roi_head.bbox_head.fc_out_channels': 128,
    'model.roi_head.bbox_head.num_classes': 3,
    'model.roi_head.mask_roi_extractor.out_channels': 64,
    'model.roi_head.mask_head.in_channels': 64, 'model.roi_head.mask_head.conv_out_channels': 64,
    'model.roi_head.mask_head.num_classes': 3,
    'model.test_cfg.rcnn.score_thr': 0.0,
    'test_dataloader.dataset.metainfo': dict(classes=('circle', 'square', 'triangle'))}
SLIM_UPERNET = {'model.decode_head.channels': 64, 'model.auxiliary_head.channels': 32}
FAMILIES = {
    'retinanet': ('configs/demo/retinanet_lsnet_t_demo.py',
                  {'model.test_cfg.score_thr': 0.0, **SHALLOW}),
    'mask_rcnn': ('configs/mask_rcnn_lsnet_t_coco.py', {**SLIM_MASK_RCNN, **SHALLOW}),
    'semfpn': ('configs/demo/semfpn_lsnet_t_demo_ade20k.py', SHALLOW),
    'upernet': ('configs/upernet_lsnet_t_ade20k.py', {**SLIM_UPERNET, **SHALLOW}),
}


def _checkpoint(model, path, classes=None):
    meta = {'dataset_meta': {'classes': classes}} if classes else {}
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return str(path)


@torch.no_grad()
def _spread_class_scores(model):
    """Initialised heads give nearly equal scores (prior 0.01): their order, which decides top-k
    and NMS, would then hinge on float32 rounding. Spread them as trained heads do."""
    for name in ('bbox_head.retina_cls', 'rpn_head.rpn_cls', 'roi_head.bbox_head.fc_cls'):
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            continue
        torch.nn.init.normal_(layer.weight, std=0.2)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """family -> (config path, cfg options, PyTorch model, .onnx path, export report), lazily."""
    cache = {}

    def get(family):
        if family not in cache:
            config, options = FAMILIES[family]
            config = osp.join(ROOT, config)
            folder = tmp_path_factory.mktemp(family)
            torch.manual_seed(0)
            model, _ = build_model_from_config(config, options)
            _spread_class_scores(model)
            checkpoint = _checkpoint(model, folder / 'model.pth')
            out = str(folder / f'{family}.onnx')
            report = export_model(config, checkpoint, out, SIZE, cfg_options=options)
            cache[family] = (config, options, model, out, report)
        return cache[family]
    return get


@pytest.mark.parametrize('family', list(FAMILIES))
def test_model_export_equals_pytorch(family, exported):
    config, _, model, out, report = exported(family)
    assert report.worst < 1e-4, report.differences
    sidecar = read_sidecar(out)
    assert sidecar['task'] == ('segmentation' if family in ('semfpn', 'upernet')
                               else 'detection')
    assert sidecar['input']['shape'] == [1, 3, *SIZE]
    mean = model.data_preprocessor.mean.flatten().tolist()
    assert sidecar['input']['mean'] == pytest.approx(mean)
    expected_files = {out, out[:-5] + '.json'}
    if family == 'mask_rcnn':
        expected_files |= {out[:-5] + '.roi_bbox.onnx', out[:-5] + '.roi_mask.onnx'}
        assert sidecar['extra_graphs'] == ['mask_rcnn.roi_bbox.onnx', 'mask_rcnn.roi_mask.onnx']
    assert set(report.files) == expected_files


@pytest.mark.parametrize('family', ['retinanet', 'mask_rcnn'])
def test_detections_equal_pytorch(family, exported):
    """ONNX Runtime, then mmdet's own post-processing: the same boxes, scores and masks."""
    config, options, model, out, _ = exported(family)
    cfg = load_config(config, options)
    onnx_model_config(cfg, out, device='cpu')
    from mmdet.registry import MODELS
    onnx_model = MODELS.build(cfg.model).eval()
    images, samples = synthetic_batch('mmdet', 2, *SIZE)
    with torch.no_grad():
        expected = model.predict(images, [s.clone() for s in samples])
        actual = onnx_model.predict(images, [s.clone() for s in samples])
    for a, e in zip(actual, expected):
        a, e = a.pred_instances, e.pred_instances
        assert len(e) > 0 and len(a) == len(e)
        assert torch.equal(a.labels, e.labels)
        torch.testing.assert_close(a.scores, e.scores, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a.bboxes, e.bboxes, rtol=1e-4, atol=1e-3)
        if family == 'mask_rcnn':
            assert (a.masks != e.masks).float().mean() < 1e-3


def test_segmentation_equals_pytorch(exported):
    config, options, model, out, _ = exported('upernet')
    cfg = load_config(config, options)
    onnx_model_config(cfg, out, device='cpu')
    from mmseg.registry import MODELS
    onnx_model = MODELS.build(cfg.model).eval()
    # Sliding 512x512 windows in the config; a 64x64 file serves 64x64 windows.
    for m in (model, onnx_model):
        m.test_cfg = ConfigDict(mode='slide', crop_size=SIZE, stride=(48, 48))
    images, samples = synthetic_batch('mmseg', 1, 96, 112)
    with torch.no_grad():
        expected = model.predict(images, [s.clone() for s in samples])[0].seg_logits.data
        actual = onnx_model.predict(images, [s.clone() for s in samples])[0].seg_logits.data
    assert relative_difference(actual, expected) < 1e-4


# Bad input.

def test_unsupported_model_is_named_with_what_is_supported(tmp_path):
    config = write_config(tmp_path, "_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'\n"
                          "default_scope = 'mmdet'\n")
    with pytest.raises(PreflightError, match="model type 'FasterRCNN'.*RetinaNet and Mask R-CNN"):
        export_model(config, None, str(tmp_path / 'x.onnx'), SIZE)


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    small = str(tmp_path / 'lsnet_s.pth')
    torch.save(LSNet('s').state_dict(), small)
    with pytest.raises(PreflightError, match=r'lsnet_s.pth does not fit LSNet-T.*shape'):
        export_backbone('t', str(tmp_path / 't.onnx'), SIZE, checkpoint=small)
    config = osp.join(ROOT, FAMILIES['semfpn'][0])
    model, _ = build_model_from_config(config, {'model.backbone.arch': 's',
                                                'model.neck.in_channels': [96, 192, 320, 448]})
    checkpoint = _checkpoint(model, tmp_path / 'semfpn_s.pth')
    with pytest.raises(PreflightError, match=r'does not fit .*backbone\.\S+ has shape \(\d+'):
        export_model(config, checkpoint, str(tmp_path / 'x.onnx'), SIZE)


def test_missing_onnxruntime_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(PreflightError, match=r'pip install onnxruntime==1\.31\.1'):
        import_onnxruntime()


def test_static_file_refuses_another_size_naming_both(exported):
    out = exported('semfpn')[3]
    with pytest.raises(ValueError, match=r'exported for inputs of size 1x3x64x64 .* got '
                                         r'1x3x96x64.*--shape 96 64'):
        OnnxRunner(out, device='cpu')(torch.randn(1, 3, 96, 64))


def test_file_of_another_task_or_classes_is_refused(exported):
    out = exported('semfpn')[3]
    retinanet = load_config(osp.join(ROOT, FAMILIES['retinanet'][0]))
    with pytest.raises(PreflightError, match='is a segmentation model, the config is for '
                                             'detection'):
        onnx_model_config(retinanet, out)
    semfpn = load_config(osp.join(ROOT, FAMILIES['semfpn'][0]),
                         {'model.decode_head.num_classes': 7})
    with pytest.raises(PreflightError, match="predicts 6 classes, the config's head 7"):
        onnx_model_config(semfpn, out)
    sidecar = out[:-5] + '.json'
    with open(sidecar) as f:
        original = f.read()
    content = json.loads(original)
    content['classes'][0] = 'lava'
    with open(sidecar, 'w') as f:
        json.dump(content, f)
    try:
        with pytest.raises(PreflightError, match=r'its classes are \(lava, '):
            onnx_model_config(load_config(osp.join(ROOT, FAMILIES['semfpn'][0])), out)
    finally:
        with open(sidecar, 'w') as f:
            f.write(original)
