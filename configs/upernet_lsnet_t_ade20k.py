# UperNet with LSNet-T on ADE20K, 160k iterations of 16 images (no published result).
_base_ = [
    './_base_/models/upernet_lsnet.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/upernet_adamw_160k.py',
    './_base_/seg_runtime.py',
]

model = dict(
    backbone=dict(
        arch='t',
        # The published ImageNet classifier, downloaded on first use and cached.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t.pth')))
train_dataloader = dict(batch_size=2)
