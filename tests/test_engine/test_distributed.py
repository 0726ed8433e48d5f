"""Distributed training and testing on the CPU: torchrun (tools/dist_*.sh), two nodes on
localhost, Slurm's launcher, evaluation equal to one process, gradient equivalence, resume, a
dying rank, SyncBN, and the non-finite loss guard under DDP.

Every distributed run has two processes on gloo with one PyTorch thread each, demo-sized (a few
iterations on a few images).
"""
import glob
import json
import os
import os.path as osp
import pickle
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from helpers import ROOT, TESTS, load_tool, logged_losses
from tolerances import DDP_VS_ONE_PROCESS_ATOL

DET_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
SEG_CONFIG = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
TOY_RUN = osp.join(TESTS, 'test_engine', 'dist_toy_run.py')
EXIT_PROBE = osp.join(TESTS, 'test_engine', 'exit_probe')
# Not a multiple of 2: the distributed sampler pads rank 1 with a repeated image, which the
# evaluator has to drop again.
NUM_VAL = 5
# How long the surviving rank of a job may take to exit after another rank was killed.
EXIT_BOUND_S = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def environment(**extra):
    """Of the processes: on the CPU also where there is a GPU, one PyTorch thread each."""
    return {**os.environ, 'PYTHON': sys.executable, 'PYTHONWARNINGS': 'ignore',
            'CUDA_VISIBLE_DEVICES': '', 'OMP_NUM_THREADS': '1', 'PORT': str(free_port()),
            **extra}


def exit_probe(directory):
    """Environment entries with which every Python process records its threads at exit into
    ``directory`` (tests/test_engine/exit_probe/sitecustomize.py)."""
    os.makedirs(directory, exist_ok=True)
    return {'PYTHONPATH': os.pathsep.join(filter(None, [EXIT_PROBE, os.environ.get('PYTHONPATH')])),
            'LSNET_TEST_EXIT_PROBE': str(directory)}


def assert_ranks_ended_gloo(directory, script, ranks):
    """Each of the ``ranks`` processes of ``script`` ended its process group before exit: no gloo
    thread still ran when the interpreter began to shut down."""
    records = []
    for path in glob.glob(osp.join(directory, '*.json')):
        with open(path) as f:
            record = json.load(f)
        if record['argv'][0].endswith(script):
            records.append(record)
    assert len(records) == ranks, records
    for record in records:
        assert not [name for name in record['threads'] if 'gloo' in name], record


def run(command, env=None, timeout=600):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env=env or environment(), timeout=timeout)
    assert result.returncode == 0, f'{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


def torchrun(nproc, *args):
    return [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
            f'--master_port={free_port()}', *args]


def process_tree(pid):
    """``pid`` and its descendants (torchrun's workers sit in sessions of their own)."""
    parents = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(')', 1)[1].split()  # after "pid (name)": state, ppid
        except OSError:  # the process ended meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.split('/')[2]))
    pids = [pid]
    for parent in pids:
        pids += parents.get(parent, [])
    return pids


def det_options(root, epochs):
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/',
            f'test_evaluator.ann_file={root}/annotations/instances_val.json',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'test_dataloader.batch_size=1',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs + 1}',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=-1',
            # An early checkpoint scores below the default 0.05: keep all its boxes.
            'model.test_cfg.score_thr=0.0']


def seg_options(root, iters):
    # The config's data loaders (a worker process each, persistent): ranks with those end too.
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'train_dataloader.batch_size=2',
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters + 1}',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={iters}']


@pytest.fixture(scope='module')
def det_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=8, num_val=NUM_VAL, height=128, width=128, seed=1)
    return root


@pytest.fixture(scope='module')
def seg_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade'))
    generate_demo_ade20k(root, num_train=4, num_val=NUM_VAL, seed=1)
    return root


@pytest.fixture(scope='module')
def det_ddp(det_data, tmp_path_factory):
    """dist_train.sh with 2 processes and --sync-bn, 3 epochs of 2 iterations, killed (SIGKILL
    to torchrun and its workers) once it has logged the loss of an iteration after its first
    checkpoint, then continued with --resume. Until the kill the run is an uninterrupted one:
    the iterations it trained after its last checkpoint are trained again by the resumed run."""
    work_dir = str(tmp_path_factory.mktemp('det_ddp'))
    command = ['bash', 'tools/dist_train.sh', DET_CONFIG, '2', '--work-dir', work_dir,
               '--sync-bn', '--seed', '0', '--deterministic', *det_options(det_data, 3)]
    with open(work_dir + '_killed.txt', 'w') as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment(), stdout=log,
                                   stderr=subprocess.STDOUT)
        deadline = time.time() + 400
        # Iteration 3, the first of epoch 2, is logged after epoch_1.pth was saved.
        while 'Epoch(train) [2][1/2]' not in open(work_dir + '_killed.txt').read():
            assert process.poll() is None, open(work_dir + '_killed.txt').read()[-3000:]
            assert time.time() < deadline, 'iteration 3 not logged after 400 s'
            time.sleep(0.05)
        for pid in process_tree(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.wait()
    killed_mid_run = not osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        resume_iter = load_checkpoint_file(f.read().strip())['meta']['iter']
    killed_losses = logged_losses(work_dir)
    probe = work_dir + '_exit'
    resumed = run(command + ['--resume'], env=environment(**exit_probe(probe)))
    return SimpleNamespace(work_dir=work_dir, killed_mid_run=killed_mid_run, resumed=resumed,
                           output=resumed.stdout + resumed.stderr, probe=probe,
                           resume_iter=resume_iter, killed_losses=killed_losses)


def test_dist_train_detection_on_two_ranks(det_ddp):
    output = det_ddp.output
    # 8 images, 2 per process and iteration: 2 iterations an epoch (4 in one process); the
    # line is logged once: only rank 0 logs.
    assert output.count('Epoch(train) [3][2/2]') == 1
    assert 'Epoch(train) [3][3/' not in output
    # Only rank 0 writes the log file and the checkpoints (one log per run: killed, resumed).
    assert len(glob.glob(osp.join(det_ddp.work_dir, '*', '*.log'))) == 2
    assert sorted(osp.basename(path) for path in glob.glob(osp.join(det_ddp.work_dir, '*.pth'))
                  ) == ['epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth']
    # --sync-bn converted the model's BatchNorms; without GPUs they are BatchNorm again, said once.
    assert output.count('SyncBatchNorm needs GPUs') == 1
    assert_ranks_ended_gloo(det_ddp.probe, 'train.py', ranks=2)


def test_killed_ddp_run_continues_with_resume(det_ddp):
    assert det_ddp.killed_mid_run
    assert 'resumed epoch: ' in det_ddp.output
    checkpoint = load_checkpoint_file(osp.join(det_ddp.work_dir, 'epoch_3.pth'))
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (3, 6)
    # The iterations both runs trained after the resume point have the same losses.
    resumed = logged_losses(det_ddp.work_dir)  # the resumed run's, where both logged one
    assert sorted(resumed) == list(range(1, 7))
    again = [i for i in det_ddp.killed_losses if i > det_ddp.resume_iter]
    assert again, (det_ddp.resume_iter, det_ddp.killed_losses)
    assert [det_ddp.killed_losses[i] for i in again] == [resumed[i] for i in again]


def test_dist_test_detection_equals_one_process(det_ddp, det_data, tmp_path):
    checkpoint = osp.join(det_ddp.work_dir, 'epoch_3.pth')
    results = {}
    for name, launch in (('one', [sys.executable, 'tools/test.py', DET_CONFIG, checkpoint]),
                         ('two', ['bash', 'tools/dist_test.sh', DET_CONFIG, checkpoint, '2'])):
        work_dir = str(tmp_path / name)
        run([*launch, '--work-dir', work_dir, '--out', osp.join(work_dir, 'raw.pkl'),
             *det_options(det_data, 3)], env=environment(**exit_probe(tmp_path / 'exit')))
        with open(osp.join(work_dir, 'test_metrics.json')) as f:
            metrics = json.load(f)['metrics']
        with open(osp.join(work_dir, 'raw.pkl'), 'rb') as f:
            results[name] = metrics, pickle.load(f)
    (metrics_one, raw_one), (metrics_two, raw_two) = results['one'], results['two']
    # The one-process run and the two ranks.
    assert_ranks_ended_gloo(tmp_path / 'exit', 'test.py', ranks=3)
    print('AP, 1 process:', metrics_one, '\nAP, 2 processes:', metrics_two)
    assert metrics_one == metrics_two and 'coco/bbox_mAP' in metrics_one
    # Every val image once: the padding rank 1 got is not counted twice.
    assert sorted(r['img_id'] for r in raw_two) == sorted(r['img_id'] for r in raw_one)
    assert len(raw_two) == NUM_VAL
    by_image = {r['img_id']: r['pred_instances'] for r in raw_one}
    for result in raw_two:
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.allclose(result['pred_instances'][key].float(),
                                  by_image[result['img_id']][key].float(),
                                  atol=DDP_VS_ONE_PROCESS_ATOL)


@pytest.fixture(scope='module')
def seg_ddp(seg_data, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('seg_ddp'))
    result = run(['bash', 'tools/dist_train.sh', SEG_CONFIG, '2', '--work-dir', work_dir,
                  *seg_options(seg_data, 2)], env=environment(**exit_probe(work_dir + '_exit')))
    return work_dir, result.stdout + result.stderr


def test_dist_train_segmentation_on_two_ranks(seg_ddp):
    work_dir, output = seg_ddp
    assert_ranks_ended_gloo(work_dir + '_exit', 'train.py', ranks=2)
    assert 'GPU number: 2' in output  # the runner's world size
    assert output.count('Iter(train) [2/2]') == 1
    assert len(glob.glob(osp.join(work_dir, '*', '*.log'))) == 1
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    # mmseg's heads are configured with SyncBN, which the CPU processes run as BatchNorm.
    assert output.count('SyncBatchNorm needs GPUs') == 1


def test_dist_test_segmentation_equals_one_process(seg_ddp, seg_data, tmp_path):
    checkpoint = osp.join(seg_ddp[0], 'iter_2.pth')
    results = {}
    for name, launch in (('one', [sys.executable, 'tools/test.py', SEG_CONFIG, checkpoint]),
                         ('two', ['bash', 'tools/dist_test.sh', SEG_CONFIG, checkpoint, '2'])):
        work_dir = tmp_path / name
        run([*launch, '--work-dir', str(work_dir), '--out', str(work_dir / 'pred'),
             *seg_options(seg_data, 2)])
        metrics = json.loads((work_dir / 'test_metrics.json').read_text())['metrics']
        maps = {path.name: cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                for path in (work_dir / 'pred').rglob('*.png')}
        results[name] = metrics, maps
    (metrics_one, maps_one), (metrics_two, maps_two) = results['one'], results['two']
    print('mIoU, 1 process:', metrics_one['mIoU'], '2 processes:', metrics_two['mIoU'])
    assert metrics_one == metrics_two and 'mIoU' in metrics_one
    assert sorted(maps_one) == sorted(maps_two) and len(maps_one) == NUM_VAL
    assert all(np.array_equal(maps_one[name], maps_two[name]) for name in maps_one)


def test_one_process_runs_syncbn_as_batchnorm(tmp_path):
    """mmseg's heads are configured with SyncBN; one process (mmengine's runner) converts it."""
    from mmengine.runner import Runner
    from lsnet_dense.engine import load_run_config
    cfg = load_run_config(SEG_CONFIG, work_dir=str(tmp_path))
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    kinds = {type(module).__name__ for module in Runner.from_cfg(cfg).model.modules()}
    assert 'SyncBatchNorm' not in kinds and 'BatchNorm2d' in kinds


# Segmentation where one DDP step with 2 x 1 images equals one step of one process on the same 2
# images: no random augmentation (fixed 128x128 resize), images in order, frozen BatchNorm
# statistics (backbone norm_eval, no norm in the head), no dropout, plain SGD; the loss is
# averaged over all pixels (ignored ones count as 0), the same number in every image.
GRADIENT_CONFIG = '''
_base_ = {base!r}
model = dict(backbone=dict(norm_eval=True), decode_head=dict(norm_cfg=None, dropout_ratio=0.0))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(data_root={root!r}, pipeline=train_pipeline))
optim_wrapper = dict(_delete_=True, type='FiniteLossOptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1))
param_scheduler = []
train_cfg = dict(max_iters=2, val_interval=100)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=-1))
'''


@pytest.fixture(scope='module')
def gradient_runs(seg_data, tmp_path_factory):
    """Two steps: one process with batch 2, and two nodes on localhost (one process each,
    dist_train.sh with NNODES=2) with batch 1."""
    root = tmp_path_factory.mktemp('gradient')
    config = root / 'gradient_cfg.py'
    config.write_text(GRADIENT_CONFIG.format(base=SEG_CONFIG, root=seg_data))
    single, nodes = str(root / 'single'), str(root / 'nodes')
    flags = ['--seed', '0', '--deterministic', '--cfg-options']
    run([sys.executable, 'tools/train.py', str(config), '--work-dir', single, *flags,
         'train_dataloader.batch_size=2'])
    port = str(free_port())
    processes = [subprocess.Popen(
        ['bash', 'tools/dist_train.sh', str(config), '1', '--work-dir', nodes, *flags,
         'train_dataloader.batch_size=1'], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env=environment(NNODES='2', NODE_RANK=str(node), MASTER_ADDR='127.0.0.1', PORT=port,
                        **exit_probe(root / 'exit')))
        for node in (0, 1)]
    outputs = [process.communicate(timeout=400)[0] for process in processes]
    return single, nodes, [p.returncode for p in processes], outputs, root / 'exit'


def test_two_nodes_on_localhost_train_one_job(gradient_runs):
    _, nodes, returncodes, outputs, probe = gradient_runs
    assert returncodes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert_ranks_ended_gloo(probe, 'train.py', ranks=2)
    # One job of two processes, logged by rank 0 (on node 0) alone.
    assert 'GPU number: 2' in outputs[0] and 'Distributed launcher: pytorch' in outputs[0]
    assert outputs[0].count('Iter(train) [2/2]') == 1 and 'Iter(train)' not in outputs[1]
    assert osp.isfile(osp.join(nodes, 'iter_2.pth'))


def test_ddp_step_equals_one_process_step_on_the_same_images(gradient_runs):
    single, nodes, returncodes, _, _ = gradient_runs
    assert returncodes == [0, 0]
    states = {}
    for name, work_dir in (('single', single), ('ddp', nodes)):
        for step in (1, 2):
            states[name, step] = load_checkpoint_file(
                osp.join(work_dir, f'iter_{step}.pth'))['state_dict']
    moved = largest = 0.0
    for key, value in states['single', 2].items():
        if not value.is_floating_point():
            continue
        for step in (1, 2):
            ddp, single = states['ddp', step][key], states['single', step][key]
            difference = float((ddp - single).abs().max())
            assert difference <= DDP_VS_ONE_PROCESS_ATOL, (key, step, difference)
            largest = max(largest, difference)
        moved = max(moved, float((value - states['single', 1][key]).abs().max()))
    print(f'DDP vs one process: largest parameter difference {largest:.2e}; the second step '
          f'moved a parameter by up to {moved:.2e}')
    assert moved > 1e-3  # the comparison is between steps that changed the weights


def toy_run(tmp_path, *flags, nproc=2, timeout=300):
    out = str(tmp_path / 'record.json')
    result = subprocess.run(torchrun(nproc, TOY_RUN, out, *flags), cwd=ROOT, capture_output=True,
                            text=True, env=environment(**exit_probe(tmp_path / 'exit')),
                            timeout=timeout)
    record = json.load(open(out)) if osp.isfile(out) else None
    return result, record


def test_nan_on_one_rank_is_skipped_on_every_rank(tmp_path):
    result, record = toy_run(tmp_path, '--nan-rank', '1', '--nan-iter', '3', '--skip')
    assert result.returncode == 0, result.stderr[-3000:]
    assert_ranks_ended_gloo(tmp_path / 'exit', 'dist_toy_run.py', ranks=2)
    assert record['world_size'] == 2
    assert record['skipped'] == [[3], [3]]
    assert record['moved'] == [[True, True, False, True]] * 2
    assert record['equal']
    assert 'Skipped the step of iteration 3: non-finite loss on rank 1: loss=nan' in (
        result.stdout + result.stderr)


def test_nan_on_one_rank_stops_every_rank_naming_it(tmp_path):
    result, record = toy_run(tmp_path, '--nan-rank', '1', '--nan-iter', '3')
    assert result.returncode != 0 and record is None
    # Both ranks stop at the same step, with the same message.
    assert result.stderr.count('Non-finite loss at iteration 3 on rank 1: loss=nan') == 2


def test_a_killed_rank_ends_the_job(tmp_path):
    start = time.time()
    result, _ = toy_run(tmp_path, '--kill-rank', '1', '--kill-iter', '3', '--iters', '100000')
    end = time.time()
    with open(tmp_path / 'record.json.killed') as f:
        killed = float(f.read())
    print(f'the job exited {end - killed:.1f} s after rank 1 was killed '
          f'({killed - start:.1f} s after the start)')
    assert result.returncode != 0
    assert end - killed < EXIT_BOUND_S


def test_a_rank_that_dies_after_its_work_ends_the_two_node_job(tmp_path):
    """Node 1's rank aborts at exit (SIGABRT, as gloo's threads once made finished ranks do):
    node 1's launcher fails naming rank 1, and node 0's stops waiting at the exit barrier (after
    5 s here, to keep the test short; stock torchrun waits 300 s)."""
    out, port = str(tmp_path / 'record.json'), str(free_port())
    processes = [subprocess.Popen(
        [sys.executable, 'tools/torchrun.py', '--nnodes=2', f'--node_rank={node}',
         '--master_addr=127.0.0.1', f'--master_port={port}', '--nproc_per_node=1', TOY_RUN, out,
         '--iters', '2', '--abort-at-exit-rank', '1'], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env=environment(LSNET_DENSE_EXIT_BARRIER_TIMEOUT='5')) for node in (0, 1)]
    outputs = [process.communicate(timeout=EXIT_BOUND_S + 120)[0] for process in processes]
    end = time.time()
    with open(out + '.aborted') as f:
        aborted = float(f.read())
    print(f'both nodes exited {end - aborted:.1f} s after rank 1 aborted')
    assert json.load(open(out))['world_size'] == 2  # the work itself was done
    assert processes[1].returncode != 0
    assert 'rank      : 1 (local_rank: 0)' in outputs[1] and 'SIGABRT' in outputs[1], outputs[1]
    assert end - aborted < EXIT_BOUND_S, outputs[0][-3000:]
    assert 'wait timeout after 5000ms' in outputs[0]  # node 0 gave up at the bounded barrier


def test_torchrun_exit_barrier_stays_within_the_bound(monkeypatch):
    monkeypatch.delenv('LSNET_DENSE_EXIT_BARRIER_TIMEOUT', raising=False)
    assert load_tool('torchrun').exit_barrier_timeout() + 15 < EXIT_BOUND_S


def test_torchrun_refuses_a_bad_exit_barrier_timeout():
    result = subprocess.run([sys.executable, 'tools/torchrun.py', '--help'], cwd=ROOT,
                            capture_output=True, text=True,
                            env=dict(os.environ, LSNET_DENSE_EXIT_BARRIER_TIMEOUT='soon'))
    assert result.returncode == 1
    assert ("error: LSNET_DENSE_EXIT_BARRIER_TIMEOUT='soon' is not a positive number of seconds"
            in result.stderr)


def test_slurm_launcher_on_the_cpu(tmp_path):
    """Two processes with the environment srun gives them, --launcher slurm."""
    out = str(tmp_path / 'record.json')
    port = str(free_port())
    processes = [subprocess.Popen(
        [sys.executable, TOY_RUN, out, '--launcher', 'slurm', '--iters', '2'], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=environment(SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_NTASKS='2',
                        SLURM_NODELIST='localhost', MASTER_ADDR='127.0.0.1', MASTER_PORT=port,
                        **exit_probe(tmp_path / 'exit')))
        for rank in (0, 1)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    record = json.load(open(out))
    assert record['world_size'] == 2 and record['equal']
    assert_ranks_ended_gloo(tmp_path / 'exit', 'dist_toy_run.py', ranks=2)


def fake_interpreter(tmp_path, name):
    """An executable that prints its arguments, standing in for python or srun."""
    path = tmp_path / name
    path.write_text('#!/bin/sh\necho "$@"\n')
    path.chmod(0o755)
    return str(path)


def test_dist_scripts_pass_torchrun_the_node_settings(tmp_path):
    env = dict(os.environ, PYTHON=fake_interpreter(tmp_path, 'python'), NNODES='2',
               NODE_RANK='1', MASTER_ADDR='10.1.2.3', PORT='29999')
    train = run(['bash', 'tools/dist_train.sh', 'cfg.py', '8', '--amp'], env=env).stdout.split()
    assert train[0] == 'tools/torchrun.py'  # torchrun with a bounded exit barrier
    assert {'--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3', '--master_port=29999',
            '--nproc_per_node=8'} <= set(train)
    assert train[-4:] == ['cfg.py', '--launcher', 'pytorch', '--amp']
    test = run(['bash', 'tools/dist_test.sh', 'cfg.py', 'ckpt.pth', '4'], env=env).stdout.split()
    assert '--nproc_per_node=4' in test and test[-4:] == ['cfg.py', 'ckpt.pth', '--launcher',
                                                           'pytorch']


def test_slurm_scripts_command_lines(tmp_path):
    fake_interpreter(tmp_path, 'srun')
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', PYTHON='python', GPUS='16',
               GPUS_PER_NODE='8', SRUN_ARGS='--quotatype=auto --time=1:00:00')
    train = run(['bash', 'tools/slurm_train.sh', 'gpu', 'lsnet', 'cfg.py', 'work', '--amp'],
                env=env).stdout.split()
    assert {'--partition=gpu', '--job-name=lsnet', '--gres=gpu:8', '--ntasks=16',
            '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
            '--quotatype=auto', '--time=1:00:00'} <= set(train)
    assert train[-7:] == ['python', '-u', 'tools/train.py', 'cfg.py', '--work-dir=work',
                          '--launcher=slurm', '--amp']
    test = run(['bash', 'tools/slurm_test.sh', 'gpu', 'lsnet', 'cfg.py', 'ckpt.pth', '--deploy'],
               env=env).stdout.split()
    assert test[-7:] == ['python', '-u', 'tools/test.py', 'cfg.py', 'ckpt.pth',
                         '--launcher=slurm', '--deploy']


def test_setup_distributed_leaves_gpu_and_single_runs_to_mmengine(monkeypatch):
    from mmengine.config import Config
    from lsnet_dense.engine import setup_distributed
    cfg = Config(dict(launcher='none'))
    setup_distributed(cfg)  # one process: nothing to start
    assert 'model_wrapper_cfg' not in cfg
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(launcher='pytorch'))
    setup_distributed(cfg)  # with CUDA mmengine starts NCCL and wraps for one GPU per process
    assert 'model_wrapper_cfg' not in cfg and not torch.distributed.is_initialized()


def test_sync_bn_flag_sets_the_config(det_data, monkeypatch):
    train = load_tool('train')
    monkeypatch.setattr(sys, 'argv', ['train.py', DET_CONFIG, '--sync-bn',
                                      *det_options(det_data, 1)])
    assert train.build_config(train.parse_args()).sync_bn == 'torch'
