"""tools/misc/install_mmcv.py without compiling: the wheel cache's key, a build renamed into
place only once it succeeded, leftovers of killed builds never used, and ``--check``."""
import os
import os.path as osp
import platform
import sys

import pytest
import torch

from helpers import load_tool

MMCV_VERSION = '2.1.0'


@pytest.fixture
def installer(tmp_path, monkeypatch):
    """The tool with its wheel cache in ``tmp_path / 'cache'``, fetching no source (the build
    stub below stands in for pip), recording the folders it was asked to build into."""
    tool = load_tool('misc/install_mmcv')
    monkeypatch.setenv('LSNET_DENSE_WHEEL_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setattr(tool, 'unpack_source', lambda version, folder: folder)
    tool.builds = []
    return tool


def stub_build(tool, monkeypatch, fails=False):
    """A build step that writes a wheel into its folder, then fails if ``fails`` (as a compiler
    error or an interrupted build would)."""
    def compile_wheel(source, folder):
        tool.builds.append(folder)
        with open(osp.join(folder, f'mmcv-{MMCV_VERSION}-cp311-cp311-linux_x86_64.whl'), 'w'):
            pass
        if fails:
            raise KeyboardInterrupt
    monkeypatch.setattr(tool, 'compile_wheel', compile_wheel)


def test_cache_key_names_mmcv_torch_python_and_machine(installer, monkeypatch):
    python = f'cp{sys.version_info.major}{sys.version_info.minor}'
    assert installer.cache_key(MMCV_VERSION) == (
        f'mmcv-{MMCV_VERSION}-torch-{torch.__version__}-{python}-{platform.machine()}')
    # Another torch: another folder, so a wheel built for the old torch is never reused.
    monkeypatch.setattr(torch, '__version__', '2.99.0+cpu')
    assert installer.cache_key(MMCV_VERSION) == (
        f'mmcv-{MMCV_VERSION}-torch-2.99.0+cpu-{python}-{platform.machine()}')


def test_requirements_pin_the_version_built(installer):
    assert installer.required_mmcv_version() == MMCV_VERSION


def test_build_is_renamed_into_place_and_then_reused(installer, monkeypatch, tmp_path, capsys):
    stub_build(installer, monkeypatch)
    root = tmp_path / 'cache'
    key = installer.cache_key(MMCV_VERSION)
    wheel = installer.cached_wheel(MMCV_VERSION)
    assert osp.dirname(wheel) == str(root / key)
    # Built in a hidden folder of the cache, which is now the key's (no copy left behind).
    (building,) = installer.builds
    assert osp.dirname(building) == str(root) and osp.basename(building).startswith(f'.{key}.')
    assert sorted(os.listdir(root)) == sorted([key, f'.{key}.lock'])
    assert installer.cached_wheel(MMCV_VERSION) == wheel
    assert len(installer.builds) == 1
    assert f'install_mmcv: reusing {root / key}' in capsys.readouterr().out


def test_failed_build_is_never_used(installer, monkeypatch, tmp_path):
    stub_build(installer, monkeypatch, fails=True)
    root = tmp_path / 'cache'
    key = installer.cache_key(MMCV_VERSION)
    with pytest.raises(KeyboardInterrupt):
        installer.cached_wheel(MMCV_VERSION)
    # The wheel it had written is gone with its hidden folder; the key's folder never existed.
    assert sorted(os.listdir(root)) == [f'.{key}.lock']
    stub_build(installer, monkeypatch)
    assert osp.dirname(installer.cached_wheel(MMCV_VERSION)) == str(root / key)
    assert len(installer.builds) == 2


def test_leftover_of_a_killed_build_is_removed_and_rebuilt(installer, monkeypatch, tmp_path):
    """A SIGKILL runs no clean-up: the hidden folder stays, with whatever the build had written,
    a complete-looking wheel included."""
    stub_build(installer, monkeypatch)
    root = tmp_path / 'cache'
    key = installer.cache_key(MMCV_VERSION)
    leftover = root / f'.{key}.building-k1ll3d'
    leftover.mkdir(parents=True)
    (leftover / f'mmcv-{MMCV_VERSION}-cp311-cp311-linux_x86_64.whl').write_bytes(b'half')
    wheel = installer.cached_wheel(MMCV_VERSION)
    assert len(installer.builds) == 1 and osp.dirname(wheel) == str(root / key)
    assert not leftover.exists()


def test_check_runs_the_ops(installer, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['install_mmcv.py', '--check'])
    installer.main()
    assert 'mmcv ops check: nms and roi_align OK' in capsys.readouterr().out


def test_check_says_why_when_the_ops_cannot_load(installer, monkeypatch, tmp_path):
    """An mmcv whose compiled extension does not load (as one built for another torch): an
    ``mmcv.ops`` shadowing the real one, in the check's interpreter only."""
    fake = tmp_path / 'fake' / 'mmcv'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text("__version__ = '2.1.0'\n")
    (fake / 'ops.py').write_text(
        "raise ImportError('mmcv/_ext.cpython-311-x86_64-linux-gnu.so: undefined symbol: "
        "_ZN3c104cuda9SetDeviceEi')\n")
    monkeypatch.setenv('PYTHONPATH', str(fake.parent))
    monkeypatch.setattr(sys, 'argv', ['install_mmcv.py', '--check'])
    with pytest.raises(SystemExit) as stopped:
        installer.main()
    message = stopped.value.code
    assert isinstance(message, str), message  # exit status 1, with the message
    assert message.startswith('install_mmcv: mmcv is installed but its compiled ops do not work')
    assert 'undefined symbol: _ZN3c104cuda9SetDeviceEi' in message
    assert f'remove that folder (under {tmp_path / "cache"}) to rebuild it' in message
