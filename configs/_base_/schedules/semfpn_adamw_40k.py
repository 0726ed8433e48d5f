# The published LSNet Semantic FPN schedule: AdamW (lr 2e-4, weight decay 1e-4) with poly decay
# (power 0.9) to 1e-6 over 40k iterations of 32 images (4 per GPU x 8 GPUs).
_base_ = 'mmseg::_base_/schedules/schedule_40k.py'

optimizer = dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4)
optim_wrapper = dict(
    type='FiniteLossOptimWrapper',  # never applies a step whose loss is NaN or inf
    optimizer=optimizer)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-6, begin=0, end=40000, by_epoch=False),
]
# tools/train.py --auto-scale-lr rescales lr for other total batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=32)
# The toolkit's hooks (see configs/_base_/det_runtime.py) are here because a key set in two
# bases of a config is an error and in mmseg's layout the schedule owns default_hooks.
default_hooks = dict(
    # Checkpoints are written whole or not at all: a killed run never leaves a truncated one.
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    # Random streams depend on (seed, iteration) only, so --resume continues exactly.
    reseed=dict(type='ReseedHook'),
    # Stop at a NaN/inf loss, naming the iteration and term (skip=True: skip such steps).
    non_finite_loss=dict(type='NonFiniteLossHook', skip=False))
