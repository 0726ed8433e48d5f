"""tools/infer.py draws predictions of detection and segmentation configs."""
import cv2
import numpy as np
import pytest
import torch

from lsnet_dense.apis import build_model_from_config
from helpers import RETINANET_INFERENCE_CONFIG, SEMFPN_INFERENCE_CONFIG, load_tool, write_config


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('infer')


@pytest.fixture
def image(tmp_path):
    picture = np.full((96, 128, 3), 200, np.uint8)
    cv2.circle(picture, (40, 50), 20, (0, 0, 255), -1)
    path = tmp_path / 'shapes.jpg'
    cv2.imwrite(str(path), picture)
    return str(path)


def _checkpoint(config, tmp_path, classes):
    model = build_model_from_config(config)[0]
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': classes}}}, path)
    return str(path)


@pytest.mark.parametrize('task', ['detection', 'segmentation'])
def test_writes_a_drawing_and_a_summary(task, infer_tool, image, tmp_path, capsys):
    if task == 'detection':
        config = write_config(tmp_path, RETINANET_INFERENCE_CONFIG)
        classes = tuple(f'thing{i}' for i in range(80))
        options = ['--score-thr', '0', '--deploy']
    else:
        config = write_config(tmp_path, SEMFPN_INFERENCE_CONFIG)
        classes = tuple(f'stuff{i}' for i in range(150))
        options = []
    checkpoint = _checkpoint(config, tmp_path, classes)
    out_dir = tmp_path / 'out'
    infer_tool.main([config, checkpoint, image, '--out-dir', str(out_dir)] + options)
    output = capsys.readouterr().out
    drawing = out_dir / 'vis' / 'shapes.jpg'
    assert f'-> {drawing}' in output
    assert ('100 objects with score >= 0.0: thing' if task == 'detection'
            else 'classes; largest: stuff') in output
    drawn, original = cv2.imread(str(drawing)), cv2.imread(image)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 1  # something was drawn


def test_missing_image_is_named(infer_tool, tmp_path):
    config = write_config(tmp_path, RETINANET_INFERENCE_CONFIG)
    with pytest.raises(SystemExit, match='File not found: .*nothing.jpg'):
        infer_tool.main([config, config, str(tmp_path / 'nothing.jpg')])
