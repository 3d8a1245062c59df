"""The linear skip of a panel, fitted on each series' own windows.

One autoregression pooled over series of different dynamics forecasts
poorly: on the yearly fertility panel of ``benchmarks/panel.py`` pooled
autoregressions had 3-6x the RMSE of the better of AutoETS and AutoARIMA,
the combined skip fitted per series 0.95x (validation split, linear part
alone). So each series gets its own, a local model beside the global LSTM,
as in the hybrid that won M4. The network keeps the pooled fit, the
fallback for series not seen in ``fit``; a fitted series adds its
*correction*, the difference between its own weights and the pooled ones,
which is linear in the window like the skip itself. The LSTM is trained on
what each series' own skip leaves.
"""

import torch

from ._autoregression import (
    CHUNK,
    WindowSums,
    flat_with_one,
    joined,
    split_window_sums,
    target_differences,
)
from ._panel import inverse_mean_squares


@torch.no_grad()
def fit_series_skips(module, data, n_series, lengths):
    """Fit ``module``'s pooled skip and return each series' correction.

    ``data`` is the panel's training :class:`~sklstm._training.TrainingData`
    (``data.series`` the series of each target). Returns a float64 tensor
    of shape ``(n_series, n_inputs + 1, n_outputs)``: zero for a series with
    no training target of positive weight.
    """
    rows = torch.arange(len(data.y), device=data.y.device)
    if data.weight is not None:
        rows = rows[data.weight > 0]
    # One sort for all series, not one scan of every target per series.
    series = data.series[rows]
    rows = rows[torch.argsort(series, stable=True)]
    counts = torch.bincount(series, minlength=n_series).tolist()
    fits = {}  # series -> (its sums, their holdout, the differences it needs)
    # Every series' earlier and later windows, for the pooled fit.
    earlier, later = WindowSums(), WindowSums()
    for code, mine in enumerate(rows.split(counts)):
        parts = split_window_sums(
            data.windows,
            data.y[mine],
            None if data.weight is None else data.weight[mine],
            data.history[mine],
            data.index[mine],
        )
        if len(mine):
            differences = target_differences(data.y[mine]) if lengths else 0
            fits[code] = (*joined(*parts), differences)
        earlier += parts[0]
        later += parts[1]
    # The pooled fallback hedges over every form: a series unseen in fit may
    # need any number of differences.
    sums, holdout = joined(earlier, later)
    base = module.fit_skip(sums, lengths, holdout=holdout)
    corrections = base.new_zeros((n_series, *base.shape))
    for code, (sums, holdout, differences) in fits.items():
        solution = module.skip_solution(
            sums, lengths, differences=differences, holdout=holdout
        )
        corrections[code] = solution - base
    return corrections


@torch.no_grad()
def series_corrections(windows, index, series, corrections):
    """Each target's correction, shape ``(len(index), n_outputs)``, float32.

    ``index`` gives each target's window in ``windows`` (-1: a row with no
    earlier row, whose window the network reads as zeros); ``series`` its
    series' position in ``corrections`` (-1: not fitted, no correction).
    """
    weights = torch.as_tensor(corrections, device=windows.device, dtype=torch.float32)
    out = windows.new_zeros((len(index), weights.shape[-1]))
    for start in range(0, len(index), CHUNK):
        rows = slice(start, start + CHUNK)
        idx, code = index[rows], series[rows]
        x = windows.index_select(0, idx.clamp_min(0))
        x[idx < 0] = 0.0
        part = torch.einsum("bk,bko->bo", flat_with_one(x), weights[code.clamp_min(0)])
        out[rows] = torch.where((code >= 0)[:, None], part, 0.0)
    return out


@torch.no_grad()
def skip_error_weights(module, train, validation, n_series):
    """Reweight ``train`` and ``validation`` (in place) by the inverse of each
    series' mean squared error of its linear skip on ``train``.

    The targets must already be less the series' corrections, so that the
    network's :meth:`~sklstm._model.LSTMNet.linear_forecast` is each series'
    own skip. Weighted so, every series' loss is relative to what its skip
    leaves: a smooth series whose skip is nearly exact counts for as much as
    a noisy one, and the LSTM learns not to disturb it (weights as in
    :func:`~sklstm._panel.inverse_mean_squares`). Multiplies the weights
    given.
    """
    error = train.y.new_empty(len(train.y))
    for start in range(0, len(error), CHUNK):
        idx = torch.arange(start, min(start + CHUNK, len(error)), device=error.device)
        forecast = module.linear_forecast(train.batch(idx))
        error[idx] = (train.y[idx] - forecast).square().mean(1)
    weight = torch.ones_like(error) if train.weight is None else train.weight
    # Group 0 holds the rows of series new to a resumed fit (series -1),
    # whose skip is the pooled one.
    group = train.series + 1
    total = torch.bincount(group, weight * error, minlength=n_series + 1)
    count = torch.bincount(group, weight, minlength=n_series + 1)
    mse = (total.double() / count).cpu().numpy()
    balance = torch.as_tensor(inverse_mean_squares(mse)).to(error)
    for data in (train, validation):
        if data is not None:
            weights = balance[data.series + 1]
            if data.weight is not None:
                weights = weights * data.weight
            data.weight = weights / weights.mean()
