"""Install lsnet_dense into an existing OpenMMLab project: pip install -e ".[mmdet]" (or mmseg).

install_requires is what the model itself needs (torch, numpy); the OpenMMLab side comes with the
mmdet / mmseg extras, whose ranges keep the mmengine and mmcv a project already has; timm and
the ONNX tools are extras too. The one pinned
development set is requirements.txt (the Makefile installs it, then this package with --no-deps).
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'lsnet_dense', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


# mmdet 3.x and mmseg 1.x accept mmcv 2.0 and 2.1 only.
OPENMMLAB = ['mmengine>=0.10,<1.0', 'mmcv>=2.0.0,<2.2.0']
EXTRAS = {
    'mmdet': OPENMMLAB + ['mmdet>=3.0.0,<3.4', 'pycocotools'],
    'mmseg': OPENMMLAB + ['mmsegmentation>=1.0.0,<1.3', 'ftfy', 'regex'],
    'timm': ['timm>=1.0', 'torchvision'],
    'onnx': ['onnx>=1.17', 'onnxscript>=0.5', 'onnxruntime>=1.20'],
}
EXTRAS['all'] = sorted({package for packages in EXTRAS.values() for package in packages})

setup(
    name='lsnet_dense',
    version=read_version(),
    description='LSNet (See Large, Focus Small, CVPR 2025) backbone for OpenMMLab 3.x '
    'detection and segmentation',
    packages=find_packages(include=['lsnet_dense', 'lsnet_dense.*']),
    python_requires='>=3.10',
    install_requires=['torch>=2.0', 'numpy'],
    extras_require=EXTRAS,
)
