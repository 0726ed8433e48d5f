"""Metrics (registered in the installed libraries' METRICS) and report tables."""
from lsnet_dense.registry import SCOPES
from .coco_report import coco_tables, to_csv, to_markdown
from .published import PUBLISHED_COCO, PUBLISHED_MIOU

__all__ = ['PUBLISHED_COCO', 'PUBLISHED_MIOU', 'coco_tables', 'to_csv', 'to_markdown']
if 'mmdet' in SCOPES:
    from .classwise_coco_metric import ClasswiseCocoMetric  # noqa: F401
    __all__.append('ClasswiseCocoMetric')
if 'mmseg' in SCOPES:
    from .per_class_iou_metric import PerClassIoUMetric  # noqa: F401
    __all__.append('PerClassIoUMetric')
