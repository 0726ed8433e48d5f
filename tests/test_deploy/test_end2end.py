"""End-to-end ONNX files (export_onnx.py --end2end): the export's own check, the runner
tools/deployment/onnx_infer.py in an interpreter where PyTorch and OpenMMLab cannot be imported,
tools/test.py and tools/infer.py on the file (and on the raw detection file), OpenVINO, and the
bad-input errors."""
import json
import os
import os.path as osp
import shutil
import struct
import subprocess
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from lsnet_dense.deploy import OnnxRunner, export_model, read_sidecar
from lsnet_dense.deploy import backends
from lsnet_dense.deploy.backends import Session
from lsnet_dense.deploy.end2end_check import BOX_PX, SCORE
from lsnet_dense.deploy.export_end2end import export_end2end
from lsnet_dense.errors import PreflightError
from helpers import ROOT, load_tool, write_config

RUNNER = osp.join(ROOT, 'tools', 'deployment', 'onnx_infer.py')
RETINANET = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
SEMFPN = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
SHALLOW_ARCH = dict(_delete_=True, embed_dims=[64, 128, 256, 384], depths=[0, 2, 2, 2],
                    num_heads=[3, 3, 3, 4])
# Imported first by every interpreter the runner tests start (PYTHONPATH): importing any of
# these raises, as on a machine that has none of them.
BLOCKER = '''
import sys
BLOCKED = {'torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmseg', 'lsnet_dense'}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, Blocker())
'''


def shallow_config(tmp_path, base, **model):
    """The demo config with fewer backbone blocks (tracing time grows with depth)."""
    model = dict(backbone=dict(arch=SHALLOW_ARCH), **model)
    return write_config(tmp_path, f'_base_ = {base!r}\nmodel = {model!r}\n',
                        name=osp.basename(base))


@torch.no_grad()
def spread_class_scores(model):
    """Initialised heads score every anchor near the 0.01 prior, so their order (which decides
    top-k and NMS) would hinge on float rounding; spread them as trained heads do. (Not so far
    that sigmoids saturate: scores of exactly 1.0 would tie.)"""
    torch.manual_seed(0)
    torch.nn.init.normal_(model.bbox_head.retina_cls.weight, std=0.05)


def save_checkpoint(model, path):
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='module')
def retinanet(tmp_path_factory, tiny_coco):
    """(config, checkpoint, end-to-end .onnx, export report): 128x128 static."""
    folder = tmp_path_factory.mktemp('retinanet_e2e')
    # The spread scores stay below the config's 0.05: keep every box.
    config = shallow_config(folder, RETINANET, test_cfg=dict(score_thr=0.0))
    torch.manual_seed(0)
    model, _ = build_model_from_config(config)
    spread_class_scores(model)
    checkpoint = save_checkpoint(model, folder / 'retinanet.pth')
    out = str(folder / 'retinanet.onnx')
    report = export_end2end(config, checkpoint, out, (128, 128))
    return config, checkpoint, out, report


@pytest.fixture(scope='module')
def semfpn(tmp_path_factory):
    """(config, checkpoint, end-to-end .onnx, report): dynamic, traced at 128x128."""
    folder = tmp_path_factory.mktemp('semfpn_e2e')
    config = shallow_config(folder, SEMFPN)
    torch.manual_seed(0)
    model, _ = build_model_from_config(config)
    checkpoint = save_checkpoint(model, folder / 'semfpn.pth')
    out = str(folder / 'semfpn.onnx')
    report = export_end2end(config, checkpoint, out, (128, 128), dynamic=True)
    return config, checkpoint, out, report


def blocked_env(tmp_path):
    folder = tmp_path / 'blocker'
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'sitecustomize.py').write_text(BLOCKER)
    return dict(os.environ, PYTHONPATH=str(folder), OMP_NUM_THREADS='1')


def run_runner(tmp_path, onnx_file, images, *options):
    """The runner copied alone beside the .onnx and its JSON, run with PyTorch blocked."""
    copy = tmp_path / 'shipped'
    copy.mkdir(parents=True, exist_ok=True)
    for path in (RUNNER, onnx_file, onnx_file[:-5] + '.json'):
        shutil.copy(path, copy)
    return subprocess.run([sys.executable, str(copy / 'onnx_infer.py'),
                           str(copy / osp.basename(onnx_file)), *map(str, images),
                           '--out-dir', str(tmp_path / 'out'), *options],
                          cwd=str(copy), capture_output=True, text=True,
                          env=blocked_env(tmp_path))


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an APP1 EXIF segment holding only the orientation tag."""
    tiff = b'II*\x00' + struct.pack('<I', 8) + struct.pack('<H', 1) + struct.pack(
        '<HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack('<I', 0)
    payload = b'Exif\x00\x00' + tiff
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + jpeg[2:]


def test_the_blocker_blocks(tmp_path):
    result = subprocess.run([sys.executable, '-c', 'import torch'], capture_output=True,
                            text=True, env=blocked_env(tmp_path))
    assert result.returncode == 1 and 'torch is blocked in this test' in result.stderr


def test_export_checks_detections_against_mmdet(retinanet):
    _, _, out, report = retinanet
    figures = list(report.predictions.values())
    assert len(figures) == 2 and '(valid 121x125)' in list(report.predictions)[1]
    for f in figures:
        assert f['detections'] > 10 and f['detections'] == f['detections in the file']
        assert f['labels differing'] == 0
        assert f['boxes max |diff| px'] <= BOX_PX and f['scores max |diff|'] <= SCORE
    sidecar = read_sidecar(out)
    assert sidecar['end2end'] and sidecar['inputs'] == ['images', 'image_size']
    assert sidecar['preprocess'] == [dict(type='Resize', scale=[128, 128], keep_ratio=True)]
    assert sidecar['decode']['test_cfg']['nms']['iou_threshold'] == 0.5


def test_runner_without_pytorch_equals_mmdet(retinanet, tiny_coco, tmp_path):
    """Two demo images, one with an EXIF rotation (mmdet applies it too: ignoring it would give
    other detections); the runner's detections in original-image pixels are mmdet's, in both
    runtimes. And a picture of another size, which the static file gets resized into."""
    config, checkpoint, out, _ = retinanet
    image = cv2.imread(osp.join(tiny_coco, 'val', sorted(os.listdir(
        osp.join(tiny_coco, 'val')))[0]))
    rotated = tmp_path / 'rotated.jpg'
    rotated.write_bytes(with_exif_orientation(cv2.imencode('.jpg', image)[1].tobytes(), 6))
    plain, wide = tmp_path / 'plain.jpg', tmp_path / 'wide.jpg'
    cv2.imwrite(str(plain), image)
    cv2.imwrite(str(wide), cv2.resize(image, (300, 100)))
    from mmdet.apis import inference_detector, init_detector
    model = init_detector(config, checkpoint, device='cpu')
    for backend in ('onnxruntime', 'openvino'):
        result = run_runner(tmp_path / backend, out, [plain, rotated, wide], '--score-thr', '0',
                            '--backend', backend)
        assert result.returncode == 0, result.stderr[-3000:]
        for path in (plain, rotated):
            record = json.loads((tmp_path / backend / 'out' / f'{path.stem}.json').read_text())
            expected = inference_detector(model, str(path)).pred_instances
            detections = record['detections']
            assert len(detections) == len(expected) > 10
            assert [d['label'] for d in detections] == expected.labels.tolist()
            np.testing.assert_allclose([d['box'] for d in detections], expected.bboxes.numpy(),
                                       rtol=0, atol=BOX_PX)
            np.testing.assert_allclose([d['score'] for d in detections],
                                       expected.scores.numpy(), rtol=0, atol=SCORE)
        record = json.loads((tmp_path / backend / 'out' / 'wide.json').read_text())
        drawing = cv2.imread(str(tmp_path / backend / 'out' / 'wide.jpg'))
        assert (record['height'], record['width']) == drawing.shape[:2] == (100, 300)
        boxes = np.array([d['box'] for d in record['detections']])
        assert len(boxes) and boxes[:, 2].max() <= 300 and boxes[:, 3].max() <= 100


def run_test_tool(config, weights, work_dir, *options):
    """tools/test.py CONFIG WEIGHTS in a subprocess: the metrics of its test_metrics.json."""
    result = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), config,
                             str(weights), '--work-dir', str(work_dir), *options], cwd=ROOT,
                            capture_output=True, text=True,
                            env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((work_dir / 'test_metrics.json').read_text())['metrics']


@pytest.fixture(scope='module')
def coco_metrics(retinanet, tiny_coco, tmp_path_factory):
    """weights -> tools/test.py's metrics on tiny_coco, per class included; the checkpoint's
    computed once for the tests that compare with it."""
    config = retinanet[0]
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={tiny_coco}/',
               f'test_evaluator.ann_file={tiny_coco}/annotations/instances_val.json',
               'test_evaluator.classwise=True', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False']
    cache = {}

    def get(weights):
        if weights not in cache:
            cache[weights] = run_test_tool(config, weights,
                                               tmp_path_factory.mktemp('test_tool'), *options)
        return cache[weights]
    return get


@pytest.fixture(scope='module')
def raw_retinanet(retinanet, tmp_path_factory):
    """The same checkpoint exported raw (mmdet decodes the outputs), 128x128."""
    config, checkpoint, _, _ = retinanet
    out = str(tmp_path_factory.mktemp('retinanet_raw') / 'retinanet_raw.onnx')
    export_model(config, checkpoint, out, (128, 128))
    return out


def test_test_tool_metrics_equal_the_checkpoints(retinanet, coco_metrics):
    """tools/test.py on the end-to-end file (ONNX Runtime): every metric, per class
    included, is the checkpoint's."""
    _, checkpoint, out, _ = retinanet
    assert 'coco/bbox_circle_AP' in coco_metrics(checkpoint)
    assert coco_metrics(out) == coco_metrics(checkpoint)


def test_raw_detection_file_metrics_equal_the_checkpoints(retinanet, raw_retinanet,
                                                          coco_metrics):
    assert coco_metrics(raw_retinanet) == coco_metrics(retinanet[1])


@pytest.mark.parametrize('kind', ['end2end', 'end2end openvino', 'raw'])
def test_infer_draws_with_the_onnx_file(retinanet, raw_retinanet, tiny_coco, tmp_path, capsys,
                                        kind):
    config, _, out, _ = retinanet
    out, backend = (raw_retinanet, 'onnxruntime') if kind == 'raw' else (out, kind[8:] or
                                                                          'onnxruntime')
    image = osp.join(tiny_coco, 'val', sorted(os.listdir(osp.join(tiny_coco, 'val')))[0])
    load_tool('infer').main([config, out, image, '--out-dir', str(tmp_path), '--score-thr',
                             '0.5', '--backend', backend])
    output = capsys.readouterr().out
    assert int(output.split(': ')[1].split(' objects with score >= 0.5')[0]) > 0, output
    drawn, original = cv2.imread(str(tmp_path / 'vis' / osp.basename(image))), cv2.imread(image)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 0.1


def test_segmentation_label_map_equals_mmseg(semfpn, tmp_path):
    """The dynamic file's own check at the traced size and at another, padded and resized; then
    the runner without PyTorch on a 150x100 image (pipeline: 160x107, then 160x128; the logits
    resized back to 150x100), against mmseg's inference."""
    config, checkpoint, out, report = semfpn
    assert all(f['pixels equal'] >= 0.999 for f in report.predictions.values())
    assert list(report.predictions)[1].endswith('at 168x104 (valid 161x101, output 181x131)')
    image = (np.random.default_rng(0).random((100, 150, 3)) * 255).astype(np.uint8)
    image[20:70, 30:120] = (40, 200, 90)
    path = tmp_path / 'scene.png'
    cv2.imwrite(str(path), image)
    result = run_runner(tmp_path, out, [path])
    assert result.returncode == 0, result.stderr[-3000:]
    label_map = cv2.imread(str(tmp_path / 'out' / 'scene.png'), cv2.IMREAD_UNCHANGED)
    from mmseg.apis import inference_model, init_model
    expected = inference_model(init_model(config, checkpoint, device='cpu'), str(path))
    expected = expected.pred_sem_seg.data[0].numpy()
    assert label_map.shape == expected.shape == (100, 150)
    assert (label_map == expected).mean() >= 0.999


def test_segmentation_test_tool_metrics_equal_the_checkpoints(semfpn, tmp_path):
    config, checkpoint, out, _ = semfpn
    data_root = tmp_path / 'data'
    generate_demo_ade20k(str(data_root), num_train=1, num_val=2)
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    metrics = {name: run_test_tool(config, weights, tmp_path / name, *options)
               for name, weights in (('torch', checkpoint), ('onnx', out))}
    assert 'per_class' in metrics['torch'] and metrics['onnx'] == metrics['torch']


# Bad input.

def test_raw_file_given_to_the_runner_and_the_reverse(retinanet, tmp_path):
    _, _, out, _ = retinanet
    with pytest.raises(PreflightError, match=r'is an end-to-end file .*a raw file .* is '
                                             'expected here'):
        OnnxRunner(out, device='cpu')
    raw = str(tmp_path / 'raw.onnx')
    shutil.copy(out, raw)
    sidecar = json.loads(open(out[:-5] + '.json').read())
    sidecar['end2end'] = False
    (tmp_path / 'raw.json').write_text(json.dumps(sidecar))
    result = run_runner(tmp_path, raw, [tmp_path / 'none.jpg'])
    assert result.returncode == 1
    assert 'is a raw file' in result.stderr and 'end-to-end file' in result.stderr


def test_runner_names_unreadable_images_and_bad_options(retinanet, tmp_path):
    _, _, out, _ = retinanet
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a picture')
    result = run_runner(tmp_path, out, [broken])
    assert result.returncode == 1
    assert f'error: cannot read {broken}: not an image' in result.stderr
    result = run_runner(tmp_path, out, [broken, '--precision', 'bf16'])
    assert 'error: --precision bf16 runs in OpenVINO: add --backend openvino' in result.stderr


def test_missing_runtime_says_how_to_install(retinanet, tmp_path):
    _, _, out, _ = retinanet
    folder = tmp_path / 'blocker'
    env = blocked_env(tmp_path)
    (folder / 'sitecustomize.py').write_text(BLOCKER.replace("'lsnet_dense'}",
                                                             "'lsnet_dense', 'openvino'}"))
    copy = tmp_path / 'shipped'
    copy.mkdir()
    for path in (RUNNER, out, out[:-5] + '.json'):
        shutil.copy(path, copy)
    result = subprocess.run([sys.executable, str(copy / 'onnx_infer.py'),
                             str(copy / 'retinanet.onnx'), 'x.jpg', '--out-dir', str(tmp_path),
                             '--backend', 'openvino'], capture_output=True, text=True, env=env)
    assert 'pip install openvino==2026.4.1' in result.stderr


def test_dynamic_detector_below_twice_the_coarsest_stride_is_refused(tmp_path):
    with pytest.raises(PreflightError, match=r'below 256x256.*--shape 256 256'):
        export_end2end(RETINANET, None, str(tmp_path / 'x.onnx'), (128, 128), dynamic=True)


def test_openvino_equals_onnxruntime_and_bf16_is_named(retinanet):
    _, _, out, _ = retinanet
    images = torch.randn(1, 3, 128, 128).numpy()
    feeds = dict(images=images, image_size=np.array([128., 128.], np.float32))
    ort, openvino = (Session(out, backend).run(feeds) for backend in ('onnxruntime',
                                                                      'openvino'))
    assert len(ort[2]) > 10 and np.array_equal(ort[2], openvino[2])
    np.testing.assert_allclose(ort[0], openvino[0], rtol=0, atol=BOX_PX)
    np.testing.assert_allclose(ort[1], openvino[1], rtol=0, atol=SCORE)
    with pytest.raises(PreflightError, match='bf16 runs in OpenVINO'):
        Session(out, 'onnxruntime', 'bf16')


def test_bf16_on_a_cpu_without_it_and_missing_openvino_are_named(retinanet, monkeypatch):
    _, _, out, _ = retinanet

    class Core:  # what OpenVINO reports on a CPU without BF16 instructions
        def get_property(self, device, name):
            return ['FP32', 'INT8']

    monkeypatch.setattr(backends, 'import_openvino', lambda: types.SimpleNamespace(Core=Core))
    with pytest.raises(PreflightError, match='this CPU has no BF16 instructions .*FP32, INT8.*'
                                             'use f32'):
        Session(out, 'openvino', 'bf16')
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, 'openvino', None)
    with pytest.raises(PreflightError, match=r'pip install openvino==2026\.4\.1'):
        Session(out, 'openvino')


