from typing import Dict

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS


@METRICS.register_module()
class ClasswiseCocoMetric(CocoMetric):
    """mmdet's CocoMetric with per-class AP kept apart for each IoU type.

    CocoMetric (``classwise=True``) returns per-class AP as ``{class}_precision`` whatever the
    IoU type, so with ``metric=['bbox', 'segm']`` the mask values overwrite the box values. This
    runs CocoMetric once per type and returns them as ``{type}_{class}_AP`` (a fraction, rounded
    to 3 decimals by CocoMetric), beside the usual ``{type}_mAP``, ``{type}_mAP_50``, ...

    Annotation files without ``info`` or ``licenses`` (as simple converters write them) get
    empty ones: pycocotools' ``loadRes`` copies ``info`` and would fail after training.
    """

    def __init__(self, *args, classwise: bool = True, **kwargs):
        super().__init__(*args, classwise=classwise, **kwargs)
        if self._coco_api is not None:
            self._coco_api.dataset.setdefault('info', {})
            self._coco_api.dataset.setdefault('licenses', [])

    def compute_metrics(self, results: list) -> Dict[str, float]:
        iou_types, merged = self.metrics, {}
        try:
            for iou_type in iou_types:
                self.metrics = [iou_type]
                for key, value in super().compute_metrics(results).items():
                    if key.endswith('_precision'):
                        key = f'{iou_type}_{key[:-len("_precision")]}_AP'
                    merged[key] = value
        finally:
            self.metrics = iou_types
        return merged
