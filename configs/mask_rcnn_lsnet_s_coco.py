_base_ = './mask_rcnn_lsnet_t_coco.py'

model = dict(
    backbone=dict(
        arch='s',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_s.pth')),
    neck=dict(in_channels=[96, 192, 320, 448]))
