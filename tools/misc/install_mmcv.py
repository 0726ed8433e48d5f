"""Install mmcv, compiled with its ops for this environment's torch, from a shared wheel cache.

mmcv 2.1.0 ships as source only and its C++ ops are compiled against one torch. pip's own wheel
cache keys a source build by the archive, not by that torch, so after a torch change it would
silently reinstall a wheel built for the old one. Here every wheel lives in a folder named by
(mmcv version, torch version, Python, machine), outside any clone:

    ${LSNET_DENSE_WHEEL_CACHE:-~/.cache/lsnet_dense/wheels}/mmcv-2.1.0-torch-2.14.1+cu130-cp311-x86_64/

mmcv 2.1.0's setup.py hard-codes ``-std=c++17``, but the headers of torch >= 2.10 need C++20:
the build raises that one flag in the unpacked source before compiling; nothing else changes.

A build is written into a hidden folder and renamed into place only once it succeeded, so a
killed build is never used; a lock lets clones that set up at the same time share one build.
Usage (the Makefile runs both with the venv's Python):

    python tools/misc/install_mmcv.py          # install mmcv (without its dependencies)
    python tools/misc/install_mmcv.py --check  # once mmcv's dependencies are installed too: run
                                               # real ops (nms, roi_align), or stop saying why
"""
import fcntl
import glob
import os
import os.path as osp
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Runs in a fresh interpreter: the ops must load and give known answers.
OPS_CHECK = """
import torch
from mmcv.ops import nms, roi_align
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
scores = torch.tensor([0.9, 0.8, 0.7])
_, keep = nms(boxes, scores, iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
feat = torch.arange(16.).view(1, 1, 4, 4)
rois = torch.tensor([[0., 0., 0., 4., 4.]])
pooled = roi_align(feat, rois, (1, 1), 1.0, 2, 'avg', True)
assert abs(pooled.item() - feat.mean().item()) < 1e-4, pooled
print('mmcv ops check: nms and roi_align OK (mmcv', __import__('mmcv').__version__, ')')
"""


def fail(message):
    sys.exit(f'install_mmcv: {message}')


def required_mmcv_version():
    with open(osp.join(REPO, 'requirements.txt')) as f:
        for line in f:
            match = re.match(r'\s*mmcv\s*==\s*([\w.]+)', line)
            if match:
                return match.group(1)
    fail('requirements.txt pins no mmcv version (expected a line "mmcv==X.Y.Z")')


def cache_key(mmcv_version):
    import torch
    python = f'cp{sys.version_info.major}{sys.version_info.minor}'
    return f'mmcv-{mmcv_version}-torch-{torch.__version__}-{python}-{platform.machine()}'


def wheel_cache_root():
    default = osp.join(osp.expanduser('~'), '.cache', 'lsnet_dense', 'wheels')
    return os.environ.get('LSNET_DENSE_WHEEL_CACHE') or default


def find_wheel(folder):
    wheels = glob.glob(osp.join(folder, 'mmcv-*.whl'))
    return wheels[0] if len(wheels) == 1 else None


def unpack_source(mmcv_version, folder):
    """mmcv's source archive unpacked into ``folder``, its C++ standard raised to C++20."""
    subprocess.run([sys.executable, '-m', 'pip', 'download', f'mmcv=={mmcv_version}', '--no-deps',
                    '--no-binary', ':all:', '--no-build-isolation', '--no-cache-dir', '--quiet',
                    '-d', folder], check=True)
    archives = glob.glob(osp.join(folder, f'mmcv-{mmcv_version}.tar.gz'))
    if not archives:
        fail(f'pip download left no mmcv-{mmcv_version}.tar.gz in {folder}')
    with tarfile.open(archives[0]) as archive:
        archive.extractall(folder, filter='data')
    source = osp.join(folder, f'mmcv-{mmcv_version}')
    setup_py = osp.join(source, 'setup.py')
    with open(setup_py) as f:
        text = f.read()
    with open(setup_py, 'w') as f:
        f.write(re.sub(r"'-std=c\+\+1[47]'", "'-std=c++20'", text))
    return source


def compile_wheel(source, folder):
    """``pip wheel`` of the unpacked ``source`` into ``folder``, mmcv's ops compiled."""
    # ninja from the venv, and mmcv's ops compiled; MAX_JOBS keeps a small machine usable.
    env = dict(os.environ, MMCV_WITH_OPS='1', MAX_JOBS=os.environ.get('MAX_JOBS', str(os.cpu_count() or 1)),
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    command = [sys.executable, '-m', 'pip', 'wheel', source, '--no-deps', '--no-build-isolation',
               '--no-cache-dir', '-w', folder]
    subprocess.run(command, env=env, check=True)


def build_wheel(mmcv_version, root, key):
    """Build into a hidden folder, then rename it to ``root/key`` (atomic on one file system)."""
    building = tempfile.mkdtemp(prefix=f'.{key}.building-', dir=root)
    sources = tempfile.mkdtemp(prefix=f'.{key}.building-src-', dir=root)
    print(f'install_mmcv: building mmcv {mmcv_version} for {key} (about 10 minutes on 2 cores)',
          flush=True)
    try:
        compile_wheel(unpack_source(mmcv_version, sources), building)
        if find_wheel(building) is None:
            fail(f'pip wheel left no single mmcv wheel in {building}')
        os.rename(building, osp.join(root, key))
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(sources, ignore_errors=True)


def cached_wheel(mmcv_version):
    root = wheel_cache_root()
    os.makedirs(root, exist_ok=True)
    key = cache_key(mmcv_version)
    with open(osp.join(root, f'.{key}.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Only a finished build is ever renamed to ``key``; leftovers of killed builds are hidden.
        for leftover in glob.glob(osp.join(root, f'.{key}.building-*')):
            shutil.rmtree(leftover, ignore_errors=True)
        if find_wheel(osp.join(root, key)) is None:
            build_wheel(mmcv_version, root, key)
        else:
            print(f'install_mmcv: reusing {osp.join(root, key)}', flush=True)
    return find_wheel(osp.join(root, key))


def check_ops():
    check = subprocess.run([sys.executable, '-c', OPS_CHECK], capture_output=True, text=True)
    if check.returncode != 0:
        fail(f'mmcv is installed but its compiled ops do not work:\n{check.stderr.strip()}\n'
             f'If it came from the wheel cache, remove that folder (under {wheel_cache_root()}) '
             'to rebuild it.')
    print(check.stdout.strip())


def main():
    if sys.argv[1:] == ['--check']:
        check_ops()
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        fail('torch is not installed in this environment; install it before mmcv')
    wheel = cached_wheel(required_mmcv_version())
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--force-reinstall',
                    '--quiet', wheel], check=True)


if __name__ == '__main__':
    main()
