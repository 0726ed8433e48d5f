# mmseg's ADE20K recipe for training (images resized to 2048x512 with ratio 0.5-2.0, 512x512
# crops, flip, photometric distortion, 4 images per GPU). Testing follows the published LSNet
# evaluation: 2048x512 keeping the ratio, then sizes rounded up to multiples of 32. The metric
# also returns per-class IoU and accuracy (see lsnet_dense/evaluation).
_base_ = 'mmseg::_base_/datasets/ade20k.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    # Loaded after resizing: predictions are scored against the original-size label map.
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
