import torch.nn as nn
from torch import Tensor

from .attention import Attention
from .ffn import FFN
from .ls_conv import LSConv
from .repvgg_dw import RepVGGDW
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
    """

    def __init__(self, embed_dim: int, key_dim: int, num_heads: int, attn_ratio: float,
                 depth_index: int, is_last_stage: bool, drop_path: float = 0.):
        super().__init__()
        if depth_index % 2 == 0:
            self.mixer = RepVGGDW(embed_dim)
            self.se = SqueezeExcite(embed_dim)
        else:
            self.se = nn.Identity()
            if is_last_stage:
                self.mixer = Residual(
                    Attention(embed_dim, key_dim, num_heads, attn_ratio, resolution=14),
                    drop_path)
            else:
                self.mixer = LSConv(embed_dim)
        self.ffn = Residual(FFN(embed_dim, 2 * embed_dim), drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.ffn(self.se(self.mixer(x)))
