# Semantic FPN with LSNet-B on ADE20K, 40k iterations (published: 43.1 mIoU).
_base_ = './semfpn_lsnet_t_ade20k.py'

model = dict(
    backbone=dict(
        arch='b',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_b.pth')),
    neck=dict(in_channels=[128, 256, 384, 512]))
