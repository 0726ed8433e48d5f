"""The published weights by URL: the configs' backbone files downloaded on first use, published
mmdet 2.x / mmseg 0.x files converted in memory wherever a whole model is loaded (tools, the
mmdet / mmseg Python APIs), ``HF_ENDPOINT`` mirrors, and the errors without network.

A server on 127.0.0.1 serves files of the published structures at the Hub's paths
(``/jameslahm/lsnet/resolve/main/FILE``) and ``HF_ENDPOINT`` points at it.
"""
import contextlib
import http.server
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading

import mmcv
import numpy as np
import pytest
import torch
from mmdet.datasets import CocoDataset

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints.download import cache_path, cached_download
from lsnet_dense.checkpoints.hub import HUB_REPO, dense_filename, hub_url, with_endpoint
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import check_checkpoint
from lsnet_dense.errors import CheckpointMismatchError, PreflightError
from helpers import (ROOT, load_tool, published_classification, published_dense, refusal_of,
                     served_directory)

RETINANET = osp.join(ROOT, 'configs', 'retinanet_lsnet_t_coco.py')
SEMFPN = osp.join(ROOT, 'configs', 'semfpn_lsnet_t_ade20k.py')


@pytest.fixture(scope='module')
def hub(tmp_path_factory, reference_shapes):
    """The base URL of a local stand-in of the Hub with lsnet_t.pth, lsnet_t_retinanet.pth and
    lsnet_t_semfpn.pth of the published structures."""
    root = tmp_path_factory.mktemp('hub')
    files = root / HUB_REPO / 'resolve' / 'main'
    files.mkdir(parents=True)
    torch.save(published_classification(reference_shapes, 't')[0], files / 'lsnet_t.pth')
    for family, config in (('retinanet', RETINANET), ('semfpn', SEMFPN)):
        model = build_model_from_config(config, {'model.backbone.init_cfg': None})[0]
        torch.save(published_dense(reference_shapes, family, 't', model, seed=5),
                   files / dense_filename(family, 't'))
    with served_directory(root) as base:
        yield base


@pytest.fixture(autouse=True)
def endpoint(hub, tmp_path, monkeypatch):
    """HF_ENDPOINT at the local hub, and an empty download cache for each test."""
    monkeypatch.setenv('HF_ENDPOINT', hub)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))


@pytest.fixture(scope='module')
def coco_layout(tmp_path_factory):
    """A small folder in COCO's own layout (train2017/, val2017/, instances_*2017.json) with
    COCO's 80 categories; the demo's three shapes become the first three."""
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=4, num_val=2, height=96, width=128, seed=4)
    for split in ('train', 'val'):
        os.rename(osp.join(root, split), osp.join(root, f'{split}2017'))
        old = osp.join(root, 'annotations', f'instances_{split}.json')
        with open(old) as f:
            annotations = json.load(f)
        new_ids = {c['id']: i + 1 for i, c in enumerate(annotations['categories'])}
        for annotation in annotations['annotations']:
            annotation['category_id'] = new_ids[annotation['category_id']]
        annotations['categories'] = [dict(id=i + 1, name=name)
                                     for i, name in enumerate(CocoDataset.METAINFO['classes'])]
        with open(osp.join(root, 'annotations', f'instances_{split}2017.json'), 'w') as f:
            json.dump(annotations, f)
        os.remove(old)
    return root


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def test_endpoint_replaces_the_hub_prefix_only(monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', 'https://hf-mirror.example/')
    assert with_endpoint(hub_url('lsnet_t.pth')) == \
        'https://hf-mirror.example/jameslahm/lsnet/resolve/main/lsnet_t.pth'
    assert with_endpoint('https://example.org/lsnet_t.pth') == 'https://example.org/lsnet_t.pth'
    monkeypatch.delenv('HF_ENDPOINT')
    assert with_endpoint(hub_url('lsnet_t.pth')) == hub_url('lsnet_t.pth')


def test_train_downloads_the_backbone_and_trains(coco_layout):
    """The mission's command on a COCO-layout folder: the config's URL is fetched into the
    cache by the pre-flight checks, the backbone loads it, training runs."""
    output = run_tool(
        'tools/train.py', RETINANET, '--work-dir', osp.join(coco_layout, 'work_dir'),
        '--cfg-options', f'train_dataloader.dataset.data_root={coco_layout}/',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.pipeline.2.scale='
        '(192,128)', 'train_cfg.max_epochs=1', 'val_cfg=None', 'val_dataloader=None',
        'val_evaluator=None', 'default_hooks.logger.interval=1')
    url = hub_url('lsnet_t.pth')
    assert osp.isfile(cache_path(url))
    assert f'tensors from {url}' in output  # the backbone's init_cfg, read from the cache
    assert 'Epoch(train) [1][1/2]' in output


def _test_args(coco_layout):
    return ('--cfg-options', f'test_dataloader.dataset.data_root={coco_layout}/',
            'test_dataloader.dataset.ann_file=annotations/instances_val2017.json',
            'test_dataloader.dataset.data_prefix.img=val2017/',
            'test_dataloader.dataset.pipeline.1.scale=(192,128)',
            f'test_evaluator.ann_file={coco_layout}/annotations/instances_val2017.json')


def _predictions(work_dir):
    """The boxes tools/test.py dumped with --out (a file this test wrote)."""
    from mmengine.fileio import load
    return [sample['pred_instances'] for sample in load(osp.join(work_dir, 'results.pkl'))]


def test_test_tool_converts_a_published_file_given_by_url(coco_layout, tmp_path):
    url = hub_url(dense_filename('retinanet', 't'))
    converted = str(tmp_path / 'retinanet_lsnet_t_3x.pth')
    load_tool('model_converters/convert_checkpoint').main([url, converted, '--config',
                                                           RETINANET, '--quiet'])
    outputs = {}
    for name, weights in (('published', url), ('converted', converted)):
        work_dir = str(tmp_path / name)
        outputs[name] = run_tool('tools/test.py', RETINANET, weights, '--work-dir', work_dir,
                                 '--out', osp.join(work_dir, 'results.pkl'),
                                 *_test_args(coco_layout))
    assert 'converted in memory from the mmcv 1.x layout' in outputs['published']
    published, same = _predictions(tmp_path / 'published'), _predictions(tmp_path / 'converted')
    assert len(published) == 2 and sum(len(p['bboxes']) for p in published) > 0
    for first, second in zip(published, same):
        for key in ('bboxes', 'scores', 'labels'):
            assert np.array_equal(np.asarray(first[key]), np.asarray(second[key])), key


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('image') / 'street.jpg')
    mmcv.imwrite(np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8), path)
    return path


def _converted_copy(url, config, tmp_path):
    path = str(tmp_path / 'converted.pth')
    load_tool('model_converters/convert_checkpoint').main([url, path, '--config', config,
                                                           '--quiet'])
    return path


def test_mmdet_apis_give_the_same_result_as_for_the_converted_copy(image, tmp_path):
    from mmdet.apis import inference_detector

    from lsnet_dense.apis.detection import DetInferencer, init_detector

    url = hub_url(dense_filename('retinanet', 't'))
    converted = _converted_copy(url, RETINANET, tmp_path)
    models = [init_detector(RETINANET, weights, device='cpu') for weights in (url, converted)]
    first, second = (inference_detector(model, image).pred_instances for model in models)
    assert len(first) > 0
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(first[key], second[key]), key
    assert models[0].dataset_meta['classes'][:2] == ('class0', 'class1')  # the file's own names

    inferred = DetInferencer(model=RETINANET, weights=url, device='cpu',
                             show_progress=False)(image)['predictions'][0]
    assert inferred['labels'] == first.labels.tolist()
    assert inferred['scores'] == first.scores.tolist()


def test_mmseg_apis_give_the_same_result_as_for_the_converted_copy(image, tmp_path):
    from mmseg.apis import inference_model

    from lsnet_dense.apis.segmentation import MMSegInferencer, init_model

    url = hub_url(dense_filename('semfpn', 't'))
    converted = _converted_copy(url, SEMFPN, tmp_path)
    results = [inference_model(init_model(SEMFPN, weights, device='cpu'), image)
               for weights in (url, converted)]
    assert torch.equal(results[0].seg_logits.data, results[1].seg_logits.data)
    assert init_model(SEMFPN, url, device='cpu').dataset_meta['classes'][0] == 'stuff0'

    labels = MMSegInferencer(model=SEMFPN, weights=url, device='cpu')(image)['predictions']
    assert np.array_equal(labels, results[0].pred_sem_seg.data[0].numpy())


def test_published_file_of_another_variant_is_refused():
    from lsnet_dense.apis.detection import init_detector

    with pytest.raises(CheckpointMismatchError, match=r'backbone\.patch_embed\.0\.c\.weight has '
                                                      r'shape \(16, 3, 3, 3\).*\(24, 3, 3, 3\)'):
        init_detector(osp.join(ROOT, 'configs', 'retinanet_lsnet_s_coco.py'),
                      hub_url(dense_filename('retinanet', 't')), device='cpu')


def test_resume_from_a_published_file_is_refused():
    url = hub_url(dense_filename('retinanet', 't'))
    with pytest.raises(PreflightError, match='no training state of tools/train.py '
                                             r'\(a published mmdet 2.x / mmseg 0.x file\).*'
                                             f'load_from={url}'):
        check_checkpoint(url, '--resume')


def test_missing_file_is_named_with_url_and_cache(monkeypatch):
    url = hub_url('lsnet_t_missing.pth')
    error = refusal_of('test', RETINANET, url, monkeypatch=monkeypatch)
    assert f'Could not download {url}' in error and 'HTTP 404' in error
    assert cache_path(url) in error


def test_no_network_is_named_with_url_cache_and_local_option(coco_layout, monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')  # refuses connections
    error = refusal_of('train', RETINANET, '--cfg-options',
                       f'train_dataloader.dataset.data_root={coco_layout}/', 'val_cfg=None',
                       'val_dataloader=None', 'val_evaluator=None', monkeypatch=monkeypatch)
    url = hub_url('lsnet_t.pth')
    assert error.startswith(f'error: pretrained backbone file: Could not download {url} '
                            '(from http://127.0.0.1:9/')
    assert cache_path(url) in error
    assert '--cfg-options model.backbone.init_cfg.checkpoint=PATH' in error


@contextlib.contextmanager
def truncating_server(payload: bytes):
    """Serves ``payload`` announced at twice its length, then closes: a download cut off."""
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', str(2 * len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True

        def log_message(self, *args):
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


def test_truncated_download_is_an_error_and_leaves_nothing(tmp_path):
    with truncating_server(b'x' * 1000) as base:
        url = f'{base}/lsnet_t.pth'
        with pytest.raises(ConnectionError, match='ended after 1000 of 2000 bytes|'
                                                  'IncompleteRead'):
            cached_download(url)
    folder = osp.dirname(cache_path(url))
    assert os.listdir(folder) == []  # neither the file nor a partial one


def test_a_file_put_in_the_cache_by_hand_is_used_offline(monkeypatch):
    url = hub_url('lsnet_t.pth')
    with_network = cached_download(url)
    kept = with_network + '.kept'
    shutil.move(with_network, kept)
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')
    shutil.move(kept, cache_path(url))  # what the offline message tells the user to do
    assert cached_download(url) == cache_path(url)


@pytest.mark.parametrize('local_rank, downloads', [('0', True), ('1', False)])
def test_only_the_first_process_of_a_machine_downloads(local_rank, downloads, monkeypatch):
    """Under DDP the other processes skip the pre-flight download: they wait for the first at
    the process group's forming, and then read its copy in the machine's cache."""
    from lsnet_dense.engine import check_pretrained, load_config

    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')  # a download would fail
    monkeypatch.setenv('LOCAL_RANK', local_rank)
    cfg = load_config(RETINANET)
    cfg.launcher = 'pytorch'
    if downloads:
        with pytest.raises(PreflightError, match='Could not download'):
            check_pretrained(cfg)
    else:
        check_pretrained(cfg)
