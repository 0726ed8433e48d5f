from .attention import Attention
from .block import Block
from .conv_bn import Conv2dBN
from .ffn import FFN
from .ls_conv import LKP, LSConv
from .repvgg_dw import RepVGGDW
from .residual import Residual
from .squeeze_excite import SqueezeExcite

__all__ = ['Attention', 'Block', 'Conv2dBN', 'FFN', 'LKP', 'LSConv', 'RepVGGDW', 'Residual',
           'SqueezeExcite']
