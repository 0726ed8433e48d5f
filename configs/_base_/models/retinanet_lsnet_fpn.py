# mmdet's RetinaNet with the LSNet backbone and the published LSNet FPN neck (strides 8-128).
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LSNet',
        arch='t',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=True),
    neck=dict(
        _delete_=True,
        type='LSNetFPN',
        in_channels=[64, 128, 256, 384],
        out_channels=256,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=5))
