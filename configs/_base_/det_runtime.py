_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)

# The toolkit's hooks are keys of default_hooks, which a child config merges by key, so a child's
# own custom_hooks (a list, which replaces the inherited one) cannot drop them.
default_hooks = dict(
    # Checkpoints are written whole or not at all: a killed run never leaves a truncated one.
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    # Random streams depend on (seed, epoch, iteration) only, so --resume continues exactly.
    reseed=dict(type='ReseedHook'),
    # Stop at a NaN/inf loss, naming the iteration and term (skip=True: skip such steps).
    non_finite_loss=dict(type='NonFiniteLossHook', skip=False))
