# Semantic FPN with LSNet-T trained from scratch on the generated ADE20K-layout scenes
# (tools/demo_seg.py), sized to learn on a 2-core CPU in minutes: 160x120 images, 128x128 crops,
# a slim neck and head, a larger learning rate with a short warm-up.
_base_ = '../semfpn_lsnet_t_ade20k.py'

# lsnet_dense.datasets.demo_ade20k registers DemoADE20KDataset.
custom_imports = dict(imports=['lsnet_dense', 'lsnet_dense.datasets.demo_ade20k'],
                      allow_failed_imports=False)

dataset_type = 'DemoADE20KDataset'
data_root = 'data/demo_ade20k'
crop_size = (128, 128)
image_scale = (160, 120)
max_iters = 400

model = dict(
    data_preprocessor=dict(size=crop_size),
    # From scratch, BatchNorm has to learn its statistics.
    backbone=dict(init_cfg=None, norm_eval=False),
    neck=dict(out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, num_classes=6))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=image_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optimizer = dict(lr=1e-3)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-6, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=20)
