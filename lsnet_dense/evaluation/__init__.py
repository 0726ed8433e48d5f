from .classwise_coco_metric import ClasswiseCocoMetric
from .coco_report import coco_tables, to_csv, to_markdown
from .per_class_iou_metric import PerClassIoUMetric
from .published import PUBLISHED_COCO

__all__ = ['ClasswiseCocoMetric', 'PUBLISHED_COCO', 'PerClassIoUMetric', 'coco_tables', 'to_csv',
           'to_markdown']
