# LSNet-T RetinaNet trained from scratch on the generated shapes dataset (tools/demo.py), sized
# to learn on a 2-core CPU in minutes: 128x128 images, a slim neck and a GroupNorm head, batches
# of 16 and a larger lr decaying along a cosine, over 3200 images seen twice.
_base_ = '../retinanet_lsnet_t_coco.py'

data_root = 'data/demo_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle'),
    palette=[(220, 20, 60), (0, 160, 0), (30, 60, 220)])
image_size = (128, 128)  # the generated images' size: Resize only records scale factors
max_epochs = 2  # 200 batches of 16 an epoch

model = dict(
    # From scratch, BatchNorm has to learn its statistics.
    backbone=dict(init_cfg=None, norm_eval=False),
    neck=dict(out_channels=64),
    bbox_head=dict(
        num_classes=3,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        # From scratch, GroupNorm in the head's convolutions (as FCOS / ATSS heads have) learns
        # faster: box AP50 77 -> 82 in the same steps.
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        # Smallest anchors of 16 px instead of 32: the demo has 10-20 px objects.
        anchor_generator=dict(octave_base_scale=2)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    # 16, not 8: on one thread PyTorch runs the backbone's grouped 1x1 convolutions through
    # oneDNN only from batch 16 on (below, group by group): 2.5x less time per image.
    batch_size=16,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
# fused: one kernel for all parameters instead of a dozen per tensor, 6% less time a step.
optim_wrapper = dict(optimizer=dict(lr=3e-3, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(interval=20),  # once an epoch
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=10)
# The same figures on every run with the same machine and thread count.
randomness = dict(seed=0)
