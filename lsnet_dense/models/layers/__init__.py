from .attention import Attention
from .block import Block
from .conv_bn import Conv2dBN, build_conv2d_bn
from .ffn import FFN
from .ls_conv import LKP, LSConv
from .repvgg_dw import RepVGGDW, build_repvgg_dw
from .residual import Residual
from .squeeze_excite import SqueezeExcite

__all__ = ['Attention', 'Block', 'Conv2dBN', 'FFN', 'LKP', 'LSConv', 'RepVGGDW', 'Residual',
           'SqueezeExcite', 'build_conv2d_bn', 'build_repvgg_dw']
