from .backbones import LSNet
from .necks import LSNetFPN

__all__ = ['LSNet', 'LSNetFPN']
