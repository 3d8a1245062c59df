"""Window alignment, warm-up padding and per-batch window gathers.

A 2D series is never cut into a ``(n_windows, sequence_length, n_features)``
copy. It is kept as one float32 tensor whose front is padded with copies of its
first row, so that the window of every target row is a contiguous run of rows;
a mini-batch of windows is gathered from it with one ``index_select``.
Nothing here knows about scikit-learn.
"""

import torch

# Rows transformed per chunk when filling the padded series, so that a float64
# temporary never exceeds a few MB whatever the length of the series.
_CHUNK_ROWS = 65536


def n_padding_rows(sequence_length, window_lag):
    """Rows of warm-up padding in front of a series.

    The window of target row ``t`` covers the original rows
    ``t - window_lag - sequence_length + 1`` to ``t - window_lag``; row 0 needs
    ``sequence_length - 1 + window_lag`` rows before it.
    """
    return sequence_length - 1 + window_lag


def padded_series(X, sequence_length, window_lag, transform=None, device="cpu"):
    """Float32 tensor of ``X`` (transformed) with its first row repeated in front.

    Parameters
    ----------
    X : ndarray of shape (n_timesteps, n_features)
        The series, oldest row first.
    sequence_length, window_lag : int
        Window geometry; see :func:`n_padding_rows`.
    transform : callable or None
        Applied to chunks of rows (for example a fitted scaler's ``transform``),
        so that the only full-size allocation is the returned tensor.
    device : str or torch.device
        Where the tensor lives.

    Returns
    -------
    series : Tensor of shape (n_padding_rows + n_timesteps, n_features)
    """
    n_pad = n_padding_rows(sequence_length, window_lag)
    n_rows, n_features = X.shape
    series = torch.empty((n_pad + n_rows, n_features), dtype=torch.float32)
    body = series[n_pad:].numpy()
    for start in range(0, n_rows, _CHUNK_ROWS):
        chunk = X[start : start + _CHUNK_ROWS]
        body[start : start + len(chunk)] = (
            chunk if transform is None else transform(chunk)
        )
    series[:n_pad] = series[n_pad]
    return series.to(device)


class SeriesWindows:
    """The windows of a padded 2D series, one per original row.

    ``gather(idx)`` returns the windows of target rows ``idx`` as a
    ``(len(idx), sequence_length, n_features)`` tensor; only that batch is
    materialised.
    """

    def __init__(self, series, sequence_length, window_lag):
        self.series = series
        self.n_windows = len(series) - n_padding_rows(sequence_length, window_lag)
        self.sequence_length = sequence_length
        # A view of overlapping windows, (n_windows, sequence_length,
        # n_features), sharing the series' memory. One index_select on it is
        # 3-8x faster than building the row indices of a batch and gathering
        # rows, and its result is contiguous, as nn.LSTM wants.
        self._windows = series.unfold(0, sequence_length, 1).transpose(1, 2)[
            : self.n_windows
        ]

    def gather(self, idx):
        return torch.index_select(self._windows, 0, idx)


class StackedWindows:
    """Ready-made windows of shape ``(n_samples, sequence_length, n_features)``."""

    def __init__(self, windows):
        self.windows = windows
        self.n_windows = len(windows)

    def gather(self, idx):
        return torch.index_select(self.windows, 0, idx)


def stacked_tensor(X, transform=None, device="cpu"):
    """Float32 tensor of 3D windows, with ``transform`` applied feature-wise."""
    n, length, n_features = X.shape
    out = torch.empty((n, length, n_features), dtype=torch.float32)
    flat = out.numpy().reshape(-1, n_features)
    rows = X.reshape(-1, n_features)
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        flat[start : start + len(chunk)] = (
            chunk if transform is None else transform(chunk)
        )
    return out.to(device)
