import torch.nn as nn
from torch import Tensor

from .attention import Attention
from .ffn import FFN
from .ls_conv import LSConv
from .repvgg_dw import build_repvgg_dw
from .residual import Residual
from .squeeze_excite import SqueezeExcite


class Block(nn.Module):
    """One LSNet block: token mixer, optional squeeze-excite, then a residual FFN.

    Blocks alternate inside a stage: an even ``depth_index`` mixes with :class:`RepVGGDW` and
    squeeze-excite; an odd one mixes with :class:`LSConv`, or in the last stage with global
    :class:`Attention`.

    Args:
        embed_dim: C, channels.
        key_dim, num_heads, attn_ratio: attention settings (used in the last stage only).
        depth_index: position of the block inside its stage.
        is_last_stage: whether odd blocks use attention instead of LS convolution.
        drop_path: drop probability of the residual branches.
        deploy: build the folded form ``switch_to_deploy`` leaves: RepVGGDW as one depth-wise
            3x3 conv, every Conv+BN unit as a conv with bias.
    """

    def __init__(self, embed_dim: int, key_dim: int, num_heads: int, attn_ratio: float,
                 depth_index: int, is_last_stage: bool, drop_path: float = 0.,
                 deploy: bool = False):
        super().__init__()
        if depth_index % 2 == 0:
            self.mixer = build_repvgg_dw(embed_dim, deploy)
            self.se = SqueezeExcite(embed_dim)
        else:
            self.se = nn.Identity()
            if is_last_stage:
                self.mixer = Residual(
                    Attention(embed_dim, key_dim, num_heads, attn_ratio, resolution=14,
                              deploy=deploy),
                    drop_path)
            else:
                self.mixer = LSConv(embed_dim, deploy)
        self.ffn = Residual(FFN(embed_dim, 2 * embed_dim, deploy), drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.ffn(self.se(self.mixer(x)))
