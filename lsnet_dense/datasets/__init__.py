from .demo_coco import generate_demo_coco

__all__ = ['generate_demo_coco']
