# Semantic FPN with LSNet-T on ADE20K, 40k iterations (published: 40.1 mIoU).
_base_ = [
    './_base_/models/semfpn_lsnet_fpn.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/semfpn_adamw_40k.py',
    './_base_/seg_runtime.py',
]

model = dict(
    backbone=dict(
        arch='t',
        # The published ImageNet classifier, downloaded on first use and cached.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t.pth')))
