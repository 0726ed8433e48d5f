# mmdet's Mask R-CNN with the LSNet backbone and the published LSNet FPN neck: one extra
# transposed-conv level gives the stride-4 map that the RPN and RoI heads expect (strides 4-64).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

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
        num_outs=5,
        num_extra_trans_convs=1))
