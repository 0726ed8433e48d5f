"""Pictures of image | ground truth | prediction rows, for detection and for segmentation."""
from lsnet_dense.registry import SCOPES
from .segmentation_comparison import draw_segmentation_comparison

__all__ = ['draw_segmentation_comparison']
if 'mmdet' in SCOPES:  # the detection picture reads COCO files with pycocotools, mmdet's
    from .detection_comparison import draw_detection_comparison, place_labels  # noqa: F401
    __all__ += ['draw_detection_comparison', 'place_labels']
