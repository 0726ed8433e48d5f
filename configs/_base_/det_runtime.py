_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)

default_hooks = dict(
    # Checkpoints are written whole or not at all: a killed run never leaves a truncated one.
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
custom_hooks = [
    # Random streams depend on (seed, epoch, iteration) only, so --resume continues exactly.
    dict(type='ReseedHook'),
    # Stop at a NaN/inf loss, naming the iteration and term (skip=True: skip such steps).
    dict(type='NonFiniteLossHook', skip=False),
]
