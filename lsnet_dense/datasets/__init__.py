from .demo_coco import VERSION as DEMO_COCO_VERSION
from .demo_coco import generate_demo_coco

__all__ = ['DEMO_COCO_VERSION', 'generate_demo_coco']
