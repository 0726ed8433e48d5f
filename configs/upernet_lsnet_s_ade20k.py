# UperNet with LSNet-S on ADE20K, 160k iterations of 16 images (no published result).
_base_ = './upernet_lsnet_t_ade20k.py'

model = dict(
    backbone=dict(
        arch='s',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_s.pth')),
    decode_head=dict(in_channels=[96, 192, 320, 448]),
    auxiliary_head=dict(in_channels=320))
