"""Install lsnet_dense. Dependencies live in requirements.txt only (see the Makefile)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'lsnet_dense', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements():
    """Runtime requirements: requirements.txt without the build tools and test runner."""
    build_only = ('setuptools', 'wheel', 'ninja', 'pytest')
    with open(osp.join(HERE, 'requirements.txt')) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line and not line.startswith(build_only)]


setup(
    name='lsnet_dense',
    version=read_version(),
    description='LSNet (See Large, Focus Small, CVPR 2025) backbone for OpenMMLab 3.x '
    'detection and segmentation',
    packages=find_packages(include=['lsnet_dense', 'lsnet_dense.*']),
    python_requires='>=3.10',
    install_requires=read_requirements(),
    extras_require={'timm': ['timm']},
)
