"""Mask R-CNN end-to-end files (export_onnx.py --end2end): the export's own check, the runner
without PyTorch (boxes and RLE masks against mmdet's inference, ONNX Runtime and OpenVINO),
tools/test.py (box and mask metrics equal the checkpoint's) and tools/infer.py on the file.

One file, exported once for the module at 128x128 from a config-initialised model whose RPN and
box classifier scores are spread (initialised ones are all near the prior and would tie)."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.deploy import read_sidecar
from lsnet_dense.deploy.backends import Session
from lsnet_dense.deploy.end2end_check import BOX_PX, PIXEL_AGREEMENT, SCORE
from lsnet_dense.deploy.export_end2end import export_end2end
from lsnet_dense.errors import PreflightError
from helpers import ROOT, load_tool
from test_end2end import (run_runner, run_test_tool, save_checkpoint, shallow_config,
                          with_exif_orientation)

MASK_RCNN = osp.join(ROOT, 'configs', 'demo', 'mask_rcnn_lsnet_t_demo.py')


@torch.no_grad()
def spread_scores(model):
    """As test_end2end.spread_class_scores, for the RPN objectness and the box classifier."""
    torch.manual_seed(0)
    torch.nn.init.normal_(model.rpn_head.rpn_cls.weight, std=0.05)
    torch.nn.init.normal_(model.roi_head.bbox_head.fc_cls.weight, std=0.05)


@pytest.fixture(scope='module')
def mask_rcnn(tmp_path_factory):
    """(config, checkpoint, end-to-end .onnx, export report): 128x128 static."""
    folder = tmp_path_factory.mktemp('mask_rcnn_e2e')
    config = shallow_config(folder, MASK_RCNN)
    torch.manual_seed(0)
    model, _ = build_model_from_config(config)
    spread_scores(model)
    checkpoint = save_checkpoint(model, folder / 'mask_rcnn.pth')
    out = str(folder / 'mask_rcnn.onnx')
    report = export_end2end(config, checkpoint, out, (128, 128))
    return config, checkpoint, out, report


def test_export_checks_boxes_and_masks_against_mmdet(mask_rcnn):
    _, _, out, report = mask_rcnn
    figures = list(report.predictions.values())
    assert len(figures) == 2 and '(valid 121x125)' in list(report.predictions)[1]
    for f in figures:
        # max_per_img of the demo config: the spread scores keep every slot filled.
        assert f['detections'] == f['detections in the file'] == 50
        assert f['labels differing'] == 0
        assert f['boxes max |diff| px'] <= BOX_PX and f['scores max |diff|'] <= SCORE
        assert f['mask probabilities max |diff|'] <= 1e-5
        assert f['mask pixels equal'] >= PIXEL_AGREEMENT
    sidecar = read_sidecar(out)
    assert sidecar['end2end'] and sidecar['model'] == 'MaskRCNN'
    assert sidecar['outputs'] == {'mask_rcnn.onnx': ['boxes', 'scores', 'labels', 'masks']}
    assert sidecar['decode']['mask_thr_binary'] == 0.5
    assert sidecar['decode']['test_cfg']['rpn']['nms_pre'] == 500


def decoded(rle) -> np.ndarray:
    """The runner's RLE read back by pycocotools (as a user of the JSON would)."""
    height, width = rle['size']
    return coco_mask.decode(coco_mask.frPyObjects(rle, height, width)).astype(bool)


def test_runner_without_pytorch_equals_mmdet(mask_rcnn, tiny_coco, tmp_path):
    """A 64x64 demo image (the pipeline resizes it to 128x128) and the same with an EXIF
    rotation: boxes, scores, labels and the masks of the runner's JSON are mmdet's, in ONNX
    Runtime and OpenVINO."""
    config, checkpoint, out, _ = mask_rcnn
    image = cv2.imread(osp.join(tiny_coco, 'val', sorted(os.listdir(
        osp.join(tiny_coco, 'val')))[0]))
    plain, rotated = tmp_path / 'plain.png', tmp_path / 'rotated.jpg'
    cv2.imwrite(str(plain), image)
    rotated.write_bytes(with_exif_orientation(cv2.imencode('.jpg', image)[1].tobytes(), 6))
    from mmdet.apis import inference_detector, init_detector
    model = init_detector(config, checkpoint, device='cpu')
    expected = {path.stem: inference_detector(model, str(path)).pred_instances
                for path in (plain, rotated)}
    for backend in ('onnxruntime', 'openvino'):
        result = run_runner(tmp_path / backend, out, [plain, rotated], '--score-thr', '0',
                            '--backend', backend)
        assert result.returncode == 0, result.stderr[-3000:]
        assert 'objects with score >= 0.0 with masks' in result.stdout
        for stem, instances in expected.items():
            detections = json.loads((tmp_path / backend / 'out' / f'{stem}.json').read_text(
                ))['detections']
            assert len(detections) == len(instances) == 50
            assert [d['label'] for d in detections] == instances.labels.tolist()
            np.testing.assert_allclose([d['box'] for d in detections],
                                       instances.bboxes.numpy(), rtol=0, atol=BOX_PX)
            np.testing.assert_allclose([d['score'] for d in detections],
                                       instances.scores.numpy(), rtol=0, atol=SCORE)
            masks = np.stack([decoded(d['mask']) for d in detections])
            assert masks.shape == tuple(instances.masks.shape)
            assert masks.any() and (masks == instances.masks.numpy()).mean() >= PIXEL_AGREEMENT


def test_openvino_equals_onnxruntime_on_masks(mask_rcnn):
    _, _, out, _ = mask_rcnn
    images = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)).numpy()
    feeds = dict(images=images, image_size=np.array([128., 128.], np.float32))
    ort, openvino = (Session(out, backend).run(feeds) for backend in ('onnxruntime',
                                                                      'openvino'))
    assert len(ort[2]) == 50 and np.array_equal(ort[2], openvino[2])
    np.testing.assert_allclose(ort[0], openvino[0], rtol=0, atol=BOX_PX)
    np.testing.assert_allclose(ort[1], openvino[1], rtol=0, atol=SCORE)
    np.testing.assert_allclose(ort[3], openvino[3], rtol=0, atol=1e-5)


def test_test_tool_box_and_mask_metrics_equal_the_checkpoints(mask_rcnn, tiny_coco,
                                                               tmp_path):
    config, checkpoint, out, _ = mask_rcnn
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={tiny_coco}/',
               f'test_evaluator.ann_file={tiny_coco}/annotations/instances_val.json',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    metrics = {name: run_test_tool(config, weights, tmp_path / name, *options)
               for name, weights in (('torch', checkpoint), ('onnx', out))}
    assert 'coco/bbox_mAP' in metrics['torch'] and 'coco/segm_mAP' in metrics['torch']
    assert metrics['onnx'] == metrics['torch']


def test_infer_draws_masks_with_the_file(mask_rcnn, tiny_coco, tmp_path, capsys):
    config, _, out, _ = mask_rcnn
    image = osp.join(tiny_coco, 'val', sorted(os.listdir(osp.join(tiny_coco, 'val')))[0])
    load_tool('infer').main([config, out, image, '--out-dir', str(tmp_path), '--score-thr',
                             '0', '--backend', 'openvino'])
    output = capsys.readouterr().out
    assert '50 objects with score >= 0.0 with masks' in output, output
    drawn, original = cv2.imread(str(tmp_path / 'vis' / osp.basename(image))), cv2.imread(image)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 0.1


def test_unsupported_mask_rcnn_settings_are_named(tmp_path):
    with pytest.raises(PreflightError, match=r"rcnn NMS type 'soft_nms'.*box RoIAlign "
                                             r'pool_mode="max"'):
        export_end2end(MASK_RCNN, None, str(tmp_path / 'x.onnx'), (128, 128), cfg_options={
            'model.test_cfg.rcnn.nms.type': 'soft_nms',
            'model.roi_head.bbox_roi_extractor.roi_layer.pool_mode': 'max'})
