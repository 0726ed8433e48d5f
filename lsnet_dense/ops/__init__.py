from .ska import ska, ska_torch

__all__ = ['ska', 'ska_torch']
