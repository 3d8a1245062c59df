"""Window alignment, warm-up padding and per-batch window gathers.

A 2D series is never cut into a ``(n_windows, sequence_length, n_features)``
copy. It is kept as one float32 tensor whose front is padded with
``sequence_length - 1`` copies of its first row, so that the window ending at
every row is a contiguous run of rows, and the windows are a view of it; a
mini-batch of windows is gathered from that view with one ``index_select``.

With ``window_lag >= 1`` the first ``window_lag`` rows have no earlier row at
all: any window for them would be made of rows at or after the target, so
they get none (:func:`n_rows_without_history`), and padding only ever copies a
row that lies before the target.
Nothing here knows about scikit-learn.
"""

import torch

# Rows transformed per chunk when filling the padded series, so that a float64
# temporary never exceeds a few MB whatever the length of the series.
_CHUNK_ROWS = 65536


def n_padding_rows(sequence_length, window_lag):
    """Rows of a series before the first one whose window is complete.

    The window of target row ``t`` covers the original rows
    ``t - window_lag - sequence_length + 1`` to ``t - window_lag``; row 0 would
    need ``sequence_length - 1 + window_lag`` rows before it.
    """
    return sequence_length - 1 + window_lag


def n_rows_without_history(n_rows, window_lag):
    """How many first rows of a series have no earlier row to form a window."""
    return min(window_lag, n_rows)


def padded_series(X, sequence_length, transform=None, device="cpu"):
    """Float32 tensor of ``X`` (transformed) with its first row repeated in front.

    Parameters
    ----------
    X : ndarray of shape (n_timesteps, n_features)
        The series, oldest row first.
    sequence_length : int
        Rows in a window; ``sequence_length - 1`` copies of the first row
        are put in front.
    transform : callable or None
        Applied to chunks of rows (for example a fitted scaler's ``transform``),
        so that the only full-size allocation is the returned tensor.
    device : str or torch.device
        Where the tensor lives.

    Returns
    -------
    series : Tensor of shape (sequence_length - 1 + n_timesteps, n_features)
    """
    n_pad = sequence_length - 1
    series = torch.empty((n_pad + len(X), X.shape[1]), dtype=torch.float32)
    _fill(series[n_pad:].numpy(), X, transform)
    series[:n_pad] = series[n_pad]
    return series.to(device)


def series_windows(series, sequence_length, window_lag):
    """The windows of the rows that have history, as a view of a padded series.

    Row ``t >= window_lag`` of the original series gets the window ending at
    row ``t - window_lag``. Returns a ``(n_timesteps - window_lag,
    sequence_length, n_features)`` view sharing the series' memory: nothing
    is copied until :func:`gather` takes a batch.
    """
    n_rows = len(series) - (sequence_length - 1)
    n_windows = n_rows - n_rows_without_history(n_rows, window_lag)
    return series.unfold(0, sequence_length, 1).transpose(1, 2)[:n_windows]


def scaled_tensor(X, transform=None, device="cpu"):
    """Float32 tensor of ``X`` (2D rows or 3D windows), transformed feature-wise."""
    n_features = X.shape[-1]
    out = torch.empty(X.shape, dtype=torch.float32)
    _fill(out.numpy().reshape(-1, n_features), X.reshape(-1, n_features), transform)
    return out.to(device)


def gather(windows, idx, out=None):
    """The windows ``idx`` as one contiguous batch, written into ``out`` if given.

    One ``index_select`` on the (possibly overlapping) windows is 3-8x faster
    than building the row indices of a batch and gathering rows, and its
    result is contiguous, as ``nn.LSTM`` wants.
    """
    return torch.index_select(windows, 0, idx, out=out)


def _fill(out, rows, transform):
    """Write ``transform(rows)`` into the float32 array ``out``, chunk by chunk."""
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        out[start : start + len(chunk)] = (
            chunk if transform is None else transform(chunk)
        )
