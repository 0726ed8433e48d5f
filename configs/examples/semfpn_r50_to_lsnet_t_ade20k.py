# Recipe: LSNet in an existing mmseg project. Start from the config you already have, then
#   1. import lsnet_dense (registers LSNet and LSNetFPN in mmseg's registry),
#   2. drop the stock model-level `pretrained` (ResNet-50's ImageNet weights): mmseg's
#      EncoderDecoder hands it to the backbone. LSNet takes its own weights through init_cfg
#      (or, mmseg's deprecated way, `model.pretrained='pretrained/lsnet_t.pth'` with no init_cfg),
#   3. replace the backbone (`_delete_=True` drops ResNet's arguments),
#   4. give the neck LSNet's channels, and the head LSNet's strides: 8-64 where ResNet's are 4-32,
#   5. use the optimizer LSNet was trained with (the published Semantic FPN recipe's AdamW).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='LSNet',
        arch='t',
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t.pth')),
    neck=dict(in_channels=[64, 128, 256, 384]),
    decode_head=dict(feature_strides=[8, 16, 32, 64]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'attention_biases': dict(decay_mult=0.)}))
