# UperNet with LSNet-B on ADE20K, 160k iterations of 16 images (no published result).
_base_ = './upernet_lsnet_t_ade20k.py'

model = dict(
    backbone=dict(
        arch='b',
        init_cfg=dict(
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_b.pth')),
    decode_head=dict(in_channels=[128, 256, 384, 512]),
    auxiliary_head=dict(in_channels=384))
