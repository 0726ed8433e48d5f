# UperNet on LSNet-T: mmseg's UPerHead (pyramid pooling with scales 1, 2, 3, 6 on the coarsest
# level, then an FPN over all four) on the backbone's strides 8, 16, 32, 64, and an auxiliary
# FCNHead on the stride-32 level (loss weight 0.4), for 150 ADE20K classes.
_base_ = 'mmseg::_base_/models/upernet_r50.py'

model = dict(
    pretrained=None,
    # Training batches are padded to the 512x512 crop size.
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(
        _delete_=True,
        type='LSNet',
        arch='t',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=True),
    decode_head=dict(in_channels=[64, 128, 256, 384], pool_scales=(1, 2, 3, 6), num_classes=150),
    auxiliary_head=dict(in_channels=256, in_index=2, num_classes=150),
    # Sliding 512x512 windows: every window is a multiple of the coarsest stride (64), and the
    # last stage's attention sees the same 8x8 token grid as on the training crops, so its
    # relative-position bias is resized exactly as in training.
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
