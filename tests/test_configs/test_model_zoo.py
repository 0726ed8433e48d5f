"""The model zoo (model-index.yml, configs/metafiles/*.yml, configs/README.md) against the
published results and files: every model's config builds, its metrics are the published ones,
its weights URL is the published file of its family and variant, nothing published is missing,
and the README shows every model, every config and the ImageNet files."""
import glob
import os.path as osp
import re
from pathlib import Path

import pytest
import yaml

from helpers import ROOT
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints.hub import dense_filename, hub_url, imagenet_filename
from lsnet_dense.evaluation.published import PUBLISHED_COCO, PUBLISHED_MIOU

MODEL_NAME = re.compile(r'(?P<family>retinanet|mask_rcnn|semfpn)_lsnet_(?P<arch>[tsb])_'
                        r'(?P<dataset>coco|ade20k)')
# The class each family's config builds, so a metafile entry cannot point at another family's
# config of the same variant.
MODEL_CLASS = {'retinanet': 'RetinaNet', 'mask_rcnn': 'MaskRCNN', 'semfpn': 'EncoderDecoder'}


def read_yaml(path):
    with open(osp.join(ROOT, path)) as f:
        return yaml.safe_load(f)


METAFILE_PATHS = read_yaml('model-index.yml')['Import']
METAFILES = {path: read_yaml(path) for path in METAFILE_PATHS}
MODELS = {model['Name']: model for metafile in METAFILES.values() for model in metafile['Models']}
README = osp.join(ROOT, 'configs', 'README.md')
README_TEXT = Path(README).read_text()


def name_parts(name):
    """``(family, arch, dataset)`` of a model name such as ``retinanet_lsnet_t_coco``."""
    match = MODEL_NAME.fullmatch(name)
    assert match, f'{name} is not named FAMILY_lsnet_ARCH_DATASET'
    return match['family'], match['arch'], match['dataset']


def published_results(name):
    """The ``Results`` entry the metafile must have for ``name``, from published.py."""
    family, arch, _ = name_parts(name)
    if family == 'semfpn':
        return [dict(Task='Semantic Segmentation', Dataset='ADE20K',
                     Metrics={'mIoU': PUBLISHED_MIOU[name]})]
    published = PUBLISHED_COCO[f'{family}_lsnet_{arch}']
    results = [dict(Task='Object Detection', Dataset='COCO',
                    Metrics={'box AP': published['bbox'][0]})]
    if family == 'mask_rcnn':
        results.append(dict(Task='Instance Segmentation', Dataset='COCO',
                            Metrics={'mask AP': published['segm'][0]}))
    return results


def test_model_index_imports_every_metafile():
    assert sorted(METAFILE_PATHS) == sorted(
        osp.relpath(path, ROOT) for path in glob.glob(osp.join(ROOT, 'configs', 'metafiles',
                                                               '*.yml')))
    assert len(MODELS) == sum(len(metafile['Models']) for metafile in METAFILES.values()), \
        'two models share a name'


@pytest.mark.parametrize('path', METAFILE_PATHS)
def test_metafile_collections(path):
    """Each model is in a collection of its own metafile, and the collection names the paper
    and the model zoo README."""
    collections = {collection['Name']: collection for collection in METAFILES[path]['Collections']}
    for collection in collections.values():
        assert collection['Paper'] == {'URL': 'https://arxiv.org/abs/2503.23135',
                                       'Title': 'LSNet: See Large, Focus Small'}
        assert osp.join(ROOT, collection['README']) == README
        assert collection['Metadata']['Architecture'][0] == 'LSNet'
    for model in METAFILES[path]['Models']:
        assert model['In Collection'] in collections, model['Name']


def test_every_published_result_has_a_model():
    published = {f'{key}_coco' for key in PUBLISHED_COCO} | set(PUBLISHED_MIOU)
    assert set(MODELS) == published


@pytest.mark.parametrize('name', MODELS)
def test_config_builds_and_matches_metadata(name):
    """The config is ``configs/NAME.py``, builds the family's model for the variant (without
    reading weights: ``build_model_from_config`` drops the backbone's init_cfg by default), and
    trains for the epochs or iterations the metafile gives."""
    model_entry = MODELS[name]
    family, arch, dataset = name_parts(name)
    assert model_entry['Config'] == f'configs/{name}.py'
    config = osp.join(ROOT, model_entry['Config'])
    assert osp.isfile(config)
    model, cfg = build_model_from_config(config)
    assert type(model).__name__ == MODEL_CLASS[family]
    assert cfg.model.backbone.arch == arch
    metadata = model_entry['Metadata']
    assert metadata['Training Data'] == {'coco': 'COCO', 'ade20k': 'ADE20K'}[dataset]
    if dataset == 'coco':
        assert metadata['Epochs'] == cfg.train_cfg.max_epochs
    else:
        assert metadata['Iterations'] == cfg.train_cfg.max_iters


@pytest.mark.parametrize('name', MODELS)
def test_metrics_are_the_published_ones(name):
    assert MODELS[name]['Results'] == published_results(name)


@pytest.mark.parametrize('name', MODELS)
def test_weights_url_is_the_published_file(name):
    family, arch, _ = name_parts(name)
    assert MODELS[name]['Weights'] == hub_url(dense_filename(family, arch))


@pytest.mark.parametrize('name', MODELS)
def test_readme_lists_config_and_weights(name):
    assert f'`{MODELS[name]["Config"]}`' in README_TEXT
    assert f'({MODELS[name]["Weights"]})' in README_TEXT


@pytest.mark.parametrize('config', sorted(
    osp.relpath(path, ROOT) for path in glob.glob(osp.join(ROOT, 'configs', '*.py'))))
def test_readme_lists_every_config(config):
    """Also the configs without published weights (UperNet), which no metafile has."""
    assert f'`{config}`' in README_TEXT


@pytest.mark.parametrize('distill', [False, True], ids=['plain', 'distill'])
@pytest.mark.parametrize('arch', 'tsb')
def test_readme_lists_imagenet_files(arch, distill):
    assert f'({hub_url(imagenet_filename(arch, distill))})' in README_TEXT
