"""Every COCO config builds, computes losses and predicts on small inputs."""
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

import lsnet_dense  # noqa: F401
from lsnet_dense.checkpoints.hub import hub_url
from helpers import COCO_CONFIGS, build_detector


def test_all_published_detectors_have_configs():
    names = {osp.basename(p) for p in COCO_CONFIGS}
    assert names == {f'{m}_lsnet_{v}_coco.py' for m in ('retinanet', 'mask_rcnn')
                     for v in 'tsb'}


@pytest.mark.parametrize('config_path', COCO_CONFIGS, ids=osp.basename)
def test_recipe(config_path):
    cfg = Config.fromfile(config_path)
    arch = config_path[-len('t_coco.py')]
    assert cfg.model.backbone.type == 'LSNet' and cfg.model.backbone.arch == arch
    assert cfg.model.backbone.init_cfg.checkpoint == hub_url(f'lsnet_{arch}.pth')
    assert cfg.model.backbone.norm_eval and cfg.model.backbone.frozen_stages == -1
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, weight_decay=0.05)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['attention_biases'].decay_mult == 0
    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 0.001, 500)
    assert steps.milestones == [8, 11]
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.train_pipeline[2].scale == (1333, 800)
    neck = cfg.model.neck
    if 'retinanet' in config_path:
        assert (neck.num_outs, neck.add_extra_convs, neck.start_level) == (5, 'on_input', 0)
    else:
        assert (neck.num_outs, neck.num_extra_trans_convs) == (5, 1)


@pytest.mark.parametrize('config_path', COCO_CONFIGS, ids=osp.basename)
def test_loss_and_predict_steps(config_path):
    model, cfg = build_detector(config_path)
    with_mask = 'mask_rcnn' in config_path
    torch.manual_seed(0)
    # 100 x 140 is not a multiple of 32: the data preprocessor pads, the backbone takes any size.
    packed = demo_mm_inputs(2, [(3, 100, 140), (3, 96, 96)], num_items=[3, 2],
                            num_classes=80, with_mask=with_mask)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model(**data, mode='loss')
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.blocks4[3].mixer.m.qkv.c.weight.grad is not None
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False), mode='predict')
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[-1] == 4
    if with_mask:
        assert results[0].pred_instances.masks.shape[-2:] == (100, 140)
