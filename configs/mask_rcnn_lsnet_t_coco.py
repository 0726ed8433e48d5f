_base_ = [
    './_base_/models/mask_rcnn_lsnet_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    './_base_/schedules/det_adamw_1x.py',
    './_base_/det_runtime.py',
]

model = dict(
    backbone=dict(
        arch='t',
        # The published ImageNet classifier, downloaded on first use and cached.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t.pth')))

# mmdet's CocoMetric, with per-class AP of boxes and masks kept apart
# (tools/analysis_tools/report.py).
val_evaluator = dict(type='ClasswiseCocoMetric')
test_evaluator = val_evaluator
