# Recipe: LSNet in an existing mmdet project. Start from the config you already have, then
#   1. import lsnet_dense (registers LSNet and LSNetFPN in mmdet's registry),
#   2. replace the backbone (`_delete_=True` drops ResNet's arguments),
#   3. give the neck LSNet's channels: LSNet's four stages have strides 8-64 where ResNet's have
#      4-32, so the FPN takes all four (start_level=0) and its extra conv still ends at stride 128,
#   4. use the optimizer LSNet was trained with (SGD at lr 0.01 suits ResNet, not LSNet).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='LSNet',
        arch='t',
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t.pth')),
    neck=dict(in_channels=[64, 128, 256, 384], start_level=0))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'attention_biases': dict(decay_mult=0.)}))
