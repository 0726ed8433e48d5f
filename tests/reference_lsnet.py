"""An independent, spec-literal LSNet forward used as the reference in tests.

It shares no code with ``lsnet_dense``: every layer is written from LSNET_SPEC.md with plain
functional ops, reading weights by their published names, in the most direct (slow) way: SKA by
``unfold``, attention by explicit matmul and softmax, bias offsets enumerated as first seen.
"""
import math

import torch
import torch.nn.functional as F


def ska_unfold(x, w):
    """y[b,c,i,j] = sum_uv x[b,c,i+u-p,j+v-p] * w[b, c % G, u*K+v, i, j] via unfold."""
    batch, channels, height, width = x.shape
    groups, taps = w.shape[1], w.shape[2]
    k = int(math.sqrt(taps))
    cols = F.unfold(x, k, padding=(k - 1) // 2).view(batch, channels, taps, height, width)
    per_channel = w[:, torch.arange(channels) % groups]
    return (cols * per_channel).sum(2)


def bn(sd, prefix, x):
    return F.batch_norm(x, sd[prefix + '.running_mean'], sd[prefix + '.running_var'],
                        sd[prefix + '.weight'], sd[prefix + '.bias'], False, 0., 1e-5)


def conv_bn(sd, prefix, x, stride=1):
    weight = sd[prefix + '.c.weight']
    groups = x.shape[1] // weight.shape[1]
    y = F.conv2d(x, weight, None, stride, weight.shape[-1] // 2, 1, groups)
    return bn(sd, prefix + '.bn', y)


def bias_index(resolution):
    points = [(i, j) for i in range(resolution) for j in range(resolution)]
    offsets, idxs = {}, []
    for p1 in points:
        for p2 in points:
            off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            if off not in offsets:
                offsets[off] = len(offsets)
            idxs.append(offsets[off])
    return torch.tensor(idxs).view(len(points), len(points))


def attention(sd, p, x, num_heads, key_dim=16):
    batch, dim, height, width = x.shape
    n = height * width
    nh_kd = key_dim * num_heads
    qkv = conv_bn(sd, p + '.qkv', x)
    dh = qkv.shape[1] - 2 * nh_kd
    q, k, v = qkv[:, :nh_kd], qkv[:, nh_kd:2 * nh_kd], qkv[:, 2 * nh_kd:]
    q = conv_bn(sd, p + '.dw', q)
    q, k, v = (t.reshape(batch, num_heads, -1, n) for t in (q, k, v))
    biases = sd[p + '.attention_biases']
    resolution = int(math.sqrt(biases.shape[1]))
    table = biases[:, bias_index(resolution)]
    if table.shape[-1] != n:
        table = F.interpolate(table[None], size=(n, n), mode='bicubic', align_corners=False)[0]
    attn = (q.transpose(-2, -1) @ k) * key_dim**-0.5 + table
    attn = attn.softmax(-1)
    out = (v @ attn.transpose(-2, -1)).reshape(batch, dh, height, width)
    return conv_bn(sd, p + '.proj.1', F.relu(out))


def block(sd, p, x, num_heads):
    if p + '.mixer.conv.c.weight' in sd:  # RepVGGDW + SE
        x = conv_bn(sd, p + '.mixer.conv', x) + conv_bn(sd, p + '.mixer.conv1', x) + x
        s = x.mean((2, 3), keepdim=True)
        s = F.conv2d(s, sd[p + '.se.fc1.weight'], sd[p + '.se.fc1.bias']).relu()
        s = F.conv2d(s, sd[p + '.se.fc2.weight'], sd[p + '.se.fc2.bias'])
        x = x * s.sigmoid()
    elif p + '.mixer.lkp.cv1.c.weight' in sd:  # LSConv
        lk = p + '.mixer.lkp'
        w = F.relu(conv_bn(sd, lk + '.cv1', x))
        w = F.relu(conv_bn(sd, lk + '.cv3', conv_bn(sd, lk + '.cv2', w)))
        w = F.conv2d(w, sd[lk + '.cv4.weight'], sd[lk + '.cv4.bias'])
        groups = x.shape[1] // 8
        w = F.group_norm(w, groups, sd[lk + '.norm.weight'], sd[lk + '.norm.bias'])
        w = w.view(x.shape[0], groups, 9, *x.shape[2:])
        x = bn(sd, p + '.mixer.bn', ska_unfold(x, w)) + x
    else:  # Residual(Attention)
        x = x + attention(sd, p + '.mixer.m', x, num_heads)
    h = F.relu(conv_bn(sd, p + '.ffn.m.pw1', x))
    return x + conv_bn(sd, p + '.ffn.m.pw2', h)


def lsnet_forward(sd, x, num_heads=(3, 3, 3, 4)):
    """Features after each of the four stages, from a backbone state dict."""
    x = conv_bn(sd, 'patch_embed.0', x, 2).relu()
    x = conv_bn(sd, 'patch_embed.2', x, 2).relu()
    x = conv_bn(sd, 'patch_embed.4', x, 2)
    outs = []
    for stage in range(1, 5):
        prefix = f'blocks{stage}'
        indices = sorted({int(k.split('.')[1]) for k in sd if k.startswith(prefix + '.')})
        first_block = 0
        if stage > 1:
            x = conv_bn(sd, f'{prefix}.0', x, 2)
            x = conv_bn(sd, f'{prefix}.1', x)
            first_block = 2
        for i in indices:
            if i >= first_block:
                x = block(sd, f'{prefix}.{i}', x, num_heads[stage - 1])
        outs.append(x)
    return outs
