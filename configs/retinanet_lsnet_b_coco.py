_base_ = './retinanet_lsnet_t_coco.py'

model = dict(
    backbone=dict(
        arch='b',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_b.pth')),
    neck=dict(in_channels=[128, 256, 384, 512]))
