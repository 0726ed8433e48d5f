# LSNet-T Mask R-CNN trained from scratch on the generated shapes dataset, boxes and instance
# masks (`python tools/demo.py --model mask_rcnn`; lsnet_dense/datasets/demo_coco.py), sized
# like the RetinaNet demo for a 2-core CPU (about 20 minutes there): 128x128 images, a neck and
# heads of 64 channels (the published 256 with a 1024-wide box head cost 30x more per RoI),
# fewer sampled RoIs, batches of 16 and a larger lr decaying along a cosine.
_base_ = '../mask_rcnn_lsnet_t_coco.py'

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
    # Anchors of 16 px instead of 32 at stride 4: the demo has 10-20 px objects.
    rpn_head=dict(in_channels=64, feat_channels=64, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=3)),
    # At most 7 objects an image: 200 proposals instead of 1000 and 128 sampled RoIs instead
    # of 512 keep the RoI heads' work (RoIAlign on the CPU) in proportion.
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=200),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200), rcnn=dict(max_per_img=50)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
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
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric=['bbox', 'segm'])
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=2e-3, fused=True))
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
