# mmseg's runtime with the toolkit's safeguards, as in det_runtime.py (the atomic checkpoint
# writer is set in the schedules, which own default_hooks in mmseg's layout).
_base_ = 'mmseg::_base_/default_runtime.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)

custom_hooks = [
    # Random streams depend on (seed, iteration) only, so --resume continues exactly.
    dict(type='ReseedHook'),
    # Stop at a NaN/inf loss, naming the iteration and term (skip=True: skip such steps).
    dict(type='NonFiniteLossHook', skip=False),
]
