# The usual UperNet recipe for efficient backbones on ADE20K: AdamW (lr 6e-5, weight decay
# 0.01), linear warm-up over 1500 iterations, then linear (poly, power 1) decay to 0 at 160k
# iterations of 16 images (2 per GPU x 8 GPUs).
_base_ = 'mmseg::_base_/schedules/schedule_160k.py'

optimizer = dict(_delete_=True, type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(
    type='FiniteLossOptimWrapper',  # never applies a step whose loss is NaN or inf
    optimizer=optimizer,
    # Normalisation parameters and relative-position bias tables are not weights to shrink.
    paramwise_cfg=dict(norm_decay_mult=0., custom_keys={'attention_biases': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, begin=0, end=1500, by_epoch=False),
    dict(type='PolyLR', power=1.0, eta_min=0., begin=1500, end=160000, by_epoch=False),
]
# tools/train.py --auto-scale-lr rescales lr for other total batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=16)
# The toolkit's hooks (see configs/_base_/det_runtime.py) are here because a key set in two
# bases of a config is an error and in mmseg's layout the schedule owns default_hooks.
default_hooks = dict(
    # Checkpoints are written whole or not at all: a killed run never leaves a truncated one.
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    # Random streams depend on (seed, iteration) only, so --resume continues exactly.
    reseed=dict(type='ReseedHook'),
    # Stop at a NaN/inf loss, naming the iteration and term (skip=True: skip such steps).
    non_finite_loss=dict(type='NonFiniteLossHook', skip=False))
