"""Convolution and 2x2 max-pooling in numpy (im2col), forward and backward, NCHW layout as in PyTorch.

Only what the paper's convolutional front ends need: stride 1, zero padding, square kernels,
non-overlapping 2x2 max-pooling. Arrays keep PyTorch's NCHW order so that flattening a feature
map before a fully connected layer, and viewing a DRTP feedback matrix as ``(classes, C, H, W)``,
order the features exactly as the authors' code does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv_out_size", "im2col", "conv2d", "conv2d_weight_grad", "conv2d_input_grad",
           "maxpool2", "maxpool2_backward"]


def conv_out_size(size: int, kernel: int, pad: int) -> int:
    """Output height/width of a stride-1 convolution."""
    return size + 2 * pad - kernel + 1


def im2col(x: np.ndarray, kernel: int, pad: int) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N*Ho*Wo, C*k*k)`` patches, rows in (n, i, j) order, columns (c, u, v)."""
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = sliding_window_view(xp, (kernel, kernel), axis=(2, 3))  # N, C, Ho, Wo, k, k
    ho, wo = win.shape[2], win.shape[3]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * kernel * kernel)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Stride-1 convolution; returns (``(N, F, Ho, Wo)`` output, the im2col matrix for the backward pass)."""
    n, _, h, wd = x.shape
    f, _, k, _ = w.shape
    cols = im2col(x, k, pad)
    ho, wo = conv_out_size(h, k, pad), conv_out_size(wd, k, pad)
    z = cols @ w.reshape(f, -1).T
    z += b
    return np.ascontiguousarray(z.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)), cols


def _delta_rows(delta: np.ndarray) -> np.ndarray:
    """``(N, F, Ho, Wo)`` -> ``(N*Ho*Wo, F)``, matching im2col's row order."""
    f = delta.shape[1]
    return np.ascontiguousarray(delta.transpose(0, 2, 3, 1)).reshape(-1, f)


def conv2d_weight_grad(delta: np.ndarray, cols: np.ndarray, w_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the kernel and bias, summed over the batch, from ``delta`` = dL/d(output)."""
    rows = _delta_rows(delta)
    return (rows.T @ cols).reshape(w_shape), rows.sum(axis=0)


def conv2d_input_grad(delta: np.ndarray, w: np.ndarray, x_shape: tuple, pad: int) -> np.ndarray:
    """dL/d(input) of a stride-1 convolution with kernel ``w`` (BP uses the forward kernel, FA a fixed one)."""
    n, c, h, wd = x_shape
    f, _, k, _ = w.shape
    ho, wo = delta.shape[2], delta.shape[3]
    dcols = (_delta_rows(delta) @ w.reshape(f, -1)).reshape(n, ho, wo, c, k, k)
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=delta.dtype)
    for u in range(k):
        for v in range(k):
            dxp[:, :, u:u + ho, v:v + wo] += dcols[:, :, :, :, u, v].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + h, pad:pad + wd] if pad else dxp


def maxpool2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2, stride-2 max-pooling (odd edges dropped, as PyTorch floors); returns (output, argmax 0..3)."""
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    blocks = x[:, :, :2 * h2, :2 * w2].reshape(n, c, h2, 2, w2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h2, w2, 4)
    idx = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, idx[..., None], axis=-1)[..., 0], idx


def maxpool2_backward(grad: np.ndarray, idx: np.ndarray, x_shape: tuple) -> np.ndarray:
    """Route each pooled gradient to the input that won the max."""
    n, c, h, w = x_shape
    h2, w2 = grad.shape[2], grad.shape[3]
    blocks = np.zeros((n, c, h2, w2, 4), dtype=grad.dtype)
    np.put_along_axis(blocks, idx[..., None], grad[..., None], axis=-1)
    out = np.zeros(x_shape, dtype=grad.dtype)
    out[:, :, :2 * h2, :2 * w2] = blocks.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, 2 * h2, 2 * w2)
    return out
