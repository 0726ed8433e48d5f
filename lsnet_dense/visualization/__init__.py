from .detection_comparison import draw_detection_comparison, place_labels

__all__ = ['draw_detection_comparison', 'place_labels']
