# UperNet with LSNet-T on ADE20K, 160k iterations of 16 images (no published result).
_base_ = [
    './_base_/models/upernet_lsnet.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/upernet_adamw_160k.py',
    './_base_/seg_runtime.py',
]

model = dict(
    backbone=dict(
        arch='t', init_cfg=dict(type='Pretrained', checkpoint='pretrained/lsnet_t.pth')))
train_dataloader = dict(batch_size=2)
