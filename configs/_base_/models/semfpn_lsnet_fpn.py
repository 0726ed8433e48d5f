# Semantic FPN on LSNet-T as published: the LSNet FPN neck with four 256-channel outputs at
# strides 8, 16, 32, 64, and mmseg's FPNHead summing them at stride 8 for 150 ADE20K classes.
# Like the published models, the backbone keeps its BatchNorms in eval mode (norm_eval).
_base_ = 'mmseg::_base_/models/fpn_r50.py'

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
    neck=dict(type='LSNetFPN', in_channels=[64, 128, 256, 384], out_channels=256, num_outs=4),
    decode_head=dict(feature_strides=[8, 16, 32, 64], num_classes=150))
