# Semantic FPN with LSNet-S on ADE20K, 40k iterations (published: 41.6 mIoU).
_base_ = './semfpn_lsnet_t_ade20k.py'

model = dict(
    backbone=dict(
        arch='s',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_s.pth')),
    neck=dict(in_channels=[96, 192, 320, 448]))
