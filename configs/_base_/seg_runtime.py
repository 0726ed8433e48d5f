# mmseg's runtime with the toolkit's modules. The toolkit's safeguards of det_runtime.py (atomic
# checkpoint writer, reseeding, NaN guard) are default_hooks, which the schedules own in mmseg's
# layout: see configs/_base_/schedules/.
_base_ = 'mmseg::_base_/default_runtime.py'

custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
