"""Windows read from lag columns: every row of X is one window.

Forecasting libraries (skforecast, sktime's ``make_reduction``) hand a
regressor a table whose every row already holds the lags of its target as
columns. With ``window="columns"`` (or ``"columns_oldest_first"``) the
estimator reads each row as a window of ``n_lags`` time steps instead of
building windows over earlier rows. A row is laid out as::

    [variable 0: n_lags columns][variable 1: n_lags columns] ... [n_exog columns]

Each variable's block is ordered newest first (skforecast's ``lag_1 ...
lag_k``) or oldest first (sktime's order); the trailing ``n_exog`` columns are
values known at the target's own time step (skforecast's exogenous
columns), not lags, and are repeated along the window as extra features.

The scaled float32 tensor is allocated once, directly in the window layout
``(n_rows, n_lags, n_variables + n_exog)`` and filled chunk by chunk from
strided views of the rows (a reshape, a transpose and, for newest-first
blocks, a reversed step), so the only full-size allocation is that tensor:
without exogenous columns it holds exactly the values of X, and the
training loop gathers its mini-batches from it as from any windows.
Nothing here knows about scikit-learn.
"""

import numpy as np
import torch

from . import _windowing


def n_lag_variables(n_columns, n_lags, n_exog):
    """How many variables' lag blocks a row of ``n_columns`` holds.

    Raises a ValueError that says how to fix a layout whose lag columns are
    not a positive multiple of ``n_lags``.
    """
    n_lag_columns = n_columns - n_exog
    if n_lag_columns < n_lags or n_lag_columns % n_lags:
        raise ValueError(
            f"With window='columns', each row of X must hold blocks of "
            f"sequence_length={n_lags} lag columns per variable, followed by "
            f"exog_columns={n_exog} exogenous columns; X has {n_columns} columns, "
            f"which leaves {n_lag_columns} lag columns, not a positive multiple "
            f"of {n_lags}. Set sequence_length to the number of lags and "
            "exog_columns to the number of trailing non-lag columns."
        )
    return n_lag_columns // n_lags


def lag_windows(X, n_lags, n_exog, newest_first, transform=None, device="cpu"):
    """The window of every row of a lag table, oldest step first.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_variables * n_lags + n_exog)
        One row per target: the lag blocks of each variable, then the
        exogenous columns.
    n_lags : int
        Columns in each variable's block: the time steps of a window.
    n_exog : int
        Trailing columns that are not lags, repeated at every time step.
    newest_first : bool
        Whether each block starts with the most recent lag (skforecast's
        ``lag_1``) rather than the oldest (sktime).
    transform : callable or None
        Applied to chunks of rows of ``X`` (a fitted scaler's ``transform``).
    device : str or torch.device
        Where the tensor lives.

    Returns
    -------
    windows : Tensor of shape (n_rows, n_lags, n_variables + n_exog)
        Time step ``k`` of row ``i`` holds lag ``n_lags - k`` of each variable
        of row ``i``, then its exogenous values.
    """
    n_rows, n_columns = X.shape
    n_variables = n_lag_variables(n_columns, n_lags, n_exog)
    windows = torch.empty((n_rows, n_lags, n_variables + n_exog), dtype=torch.float32)
    out = windows.numpy()
    n_lag_columns = n_variables * n_lags
    step = -1 if newest_first else 1
    for start in range(0, n_rows, _windowing._CHUNK_ROWS):
        chunk = X[start : start + _windowing._CHUNK_ROWS]
        if transform is not None:
            chunk = np.asarray(transform(chunk))
        rows = slice(start, start + len(chunk))
        # (rows, variables, lags) -> (rows, lags, variables), oldest lag first:
        # views of the chunk, written once into the float32 windows.
        blocks = chunk[:, :n_lag_columns].reshape(len(chunk), n_variables, n_lags)
        out[rows, :, :n_variables] = blocks.transpose(0, 2, 1)[:, ::step]
        out[rows, :, n_variables:] = chunk[:, None, n_lag_columns:]
    return windows.to(device)
