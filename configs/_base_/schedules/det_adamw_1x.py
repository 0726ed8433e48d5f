# The published LSNet detection recipe: mmdet's 1x schedule (12 epochs, steps at 8 and 11,
# linear warm-up of 500 iterations from 0.001, base batch 16) with AdamW instead of SGD.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

optim_wrapper = dict(
    _delete_=True,
    type='FiniteLossOptimWrapper',  # never applies a step whose loss is NaN or inf
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    # Relative-position bias tables are not weights to shrink.
    paramwise_cfg=dict(custom_keys={'attention_biases': dict(decay_mult=0.)}))
