"""Helpers that make forecasting with LSTMRegressor easy to align correctly.

The estimator reads a 2D ``X`` as one series and gives row ``t`` the window
of rows ``t - window_lag - sequence_length + 1`` to ``t - window_lag``. For a
forecast, X holds the series itself and the target of row ``t`` must lie
after the window's last row. :func:`make_direct_targets` builds such targets
for one or several steps ahead, and :func:`rolling_forecast` predicts a test
period from windows that reach back into the real history before it.

Recipe for one-step-ahead forecasts of a monthly series ``y`` (an ndarray),
with the test period starting at row ``n_train``; the settings are those
measured in ``benchmarks/forecast.py`` (see :func:`make_forecaster`)::

    X = y.reshape(-1, 1)  # the series is its own feature
    reg = make_forecaster(seasonal_period=12).fit(X[:n_train], y[:n_train])
    y_pred = rolling_forecast(reg, X, start=n_train)  # predicts y[n_train:]
"""

from numbers import Integral

import numpy as np

from ._panel import layout_of, split_series_column
from ._regressor import LSTMRegressor, _ndim
from ._seasonal import seasonal_period_of
from ._windowing import n_padding_rows

__all__ = [
    "make_direct_targets",
    "make_forecaster",
    "rolling_forecast",
    "seasonal_period_of",
]


def make_forecaster(
    seasonal_period=1, *, series_column=None, random_state=None, **params
):
    """The recommended LSTMRegressor for one-step-ahead forecasts of a series.

    The recipe measured in ``benchmarks/forecast.py`` against statsforecast's
    AutoETS and AutoARIMA, chosen on validation splits inside the training
    periods of its 17 real series (never on their test periods):

    - the window covers four seasons and the value before them up to
      monthly data, two up to hourly data and one beyond, where more would
      multiply the fit time, and at least 20 rows
      (``sequence_length=max(20, k * seasonal_period + 1)``), and ends one
      row before its target (``window_lag=1``);
    - a combination of linear autoregressions on the window
      (``linear_skip="combined"``: on levels, on changes and on second
      differences, over the last 5, 10 and 20 rows and every whole number
      of seasons from two, each where the series has at least 6 windows
      per coefficient, weighted by their errors on the last fifth of the
      training windows), fitted in
      closed form and held fixed, carries the level, trend and season that
      per-window normalisation would hide; the LSTM learns what it misses,
      on windows centred on the value one season before the target
      (``window_normalization="seasonal"``; ``"last"`` without a season);
    - 40 epochs on every training row (``max_iter=40``,
      ``n_iter_no_change=np.inf``) at a learning rate of ``3e-4``: at
      ``1e-3`` the LSTM drifted away from the linear part on some short
      series (wool: 1.46x instead of 1.07x AutoARIMA) and the seeds
      disagreed by up to 10%.

    On geometric mean over the 17 series, the validation RMSE was 0.932x
    the better of AutoETS and AutoARIMA (0.939x for sklstm 0.5.0's recipe,
    whose combination was an equal mean over two seasons at most; 1.021x
    at a learning rate of ``1e-3``; 0.957x for 0.3.0's, whose combination
    had neither the second differences nor the floor on windows).

    With ``series_column``, one global model over many series (see "Many
    series" in the user guide), chosen on the validation splits of the three
    panels of ``benchmarks/panel.py``: the same recipe on a window of one
    season and a row (at least 10), with scalers and loss weights per series
    (``series_scaling="per_series"``, the default, and
    ``series_weighting="skip"``, each series' loss relative to the error of
    its own skip); the linear skip is fitted on each series' own windows.
    Against the better of AutoETS and AutoARIMA fitted per series, that was
    0.987x the RMSE on geometric mean over the panels, against 1.05x with
    0.4.0's loss weights (``series_weighting="naive"``), 1.43x for 0.3.0's
    global recipe (no skip, 15 epochs at ``1e-3``) and 1.01x at a learning
    rate of ``1e-3``; the single-series recipe fitted on each series reached
    1.03x, for 1.5x the fit time on the yearly panel.

    Parameters
    ----------
    seasonal_period : int, default=1
        Rows in one season of the series (statsforecast's ``season_length``):
        12 for monthly data with a yearly cycle, 4 for quarterly, 52 for
        weekly, 24 for hourly, 48 for half-hourly; 1 for none.
        :func:`seasonal_period_of` reads the usual one off a pandas
        ``DatetimeIndex``; nothing is guessed.

    series_column : int, str or None, default=None
        The column of X holding the series ids, for one model over many
        series (:class:`~sklstm.LSTMRegressor`'s ``series_column``); gives
        the global recipe.

    random_state : int, RandomState instance or None, default=None
        Passed to :class:`~sklstm.LSTMRegressor`.

    **params
        Any other :class:`~sklstm.LSTMRegressor` parameters; they override
        the recipe's (for example ``hidden_size=32`` or ``max_iter=100``).
        ``n_estimators=5`` makes it a deep ensemble, for
        ``predict(X, return_std=True)``; it is not the default because the
        recipe's seeds already agree (five members changed its validation
        RMSE by +0.05% on geometric mean over the 17 series).

    Returns
    -------
    estimator : LSTMRegressor
        Unfitted. Fit it on ``X`` holding the series as column 0 (and
        optionally more feature columns) and ``y`` the series itself, and
        forecast a test period with :func:`rolling_forecast`.

    See Also
    --------
    rolling_forecast : Predict a test period from windows over real history.
    seasonal_period_of : The usual seasonal period of a date index.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import make_forecaster, rolling_forecast
    >>> t = np.arange(240)
    >>> y = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    >>> X = y.reshape(-1, 1)
    >>> reg = make_forecaster(12, random_state=0).fit(X[:192], y[:192])
    >>> reg.sequence_length, reg.window_normalization
    (49, 'seasonal')
    >>> y_pred = rolling_forecast(reg, X, start=192)
    >>> bool(np.sqrt(np.mean((y_pred - y[192:]) ** 2)) < 0.1)
    True
    """
    _check_int(seasonal_period, "seasonal_period", 1)
    seasonal = seasonal_period > 1
    recipe = {
        "sequence_length": max(
            20, _recipe_seasons(seasonal_period) * seasonal_period + 1
        ),
        "window_lag": 1,
        "window_normalization": "seasonal" if seasonal else "last",
        "seasonal_period": seasonal_period if seasonal else None,
        "linear_skip": "combined",
        "max_iter": 40,
        "learning_rate_init": 3e-4,
        "n_iter_no_change": np.inf,
    }
    if series_column is not None:
        recipe.update(
            series_column=series_column,
            sequence_length=max(10, seasonal_period + 1),
            series_weighting="skip",
        )
    return LSTMRegressor(**{**recipe, "random_state": random_state, **params})


def _recipe_seasons(seasonal_period):
    """Whole seasons in the single-series recipe's window: four up to monthly
    data, two up to hourly (four would make a window of 97 rows, which
    costs the LSTM four times the time), one beyond."""
    if seasonal_period <= 12:
        return 4
    return 2 if seasonal_period <= 24 else 1


def make_direct_targets(y, horizon, *, window_lag=1, series=None):
    """Targets for direct multi-step forecasts: one column per step ahead.

    Row ``t`` of the result holds the ``horizon`` values that follow the
    last row of row ``t``'s window, for an :class:`~sklstm.LSTMRegressor`
    with the same ``window_lag`` and the series as ``X``::

        Y[t, h - 1] = y[t - window_lag + h],   h = 1, ..., horizon

    so column ``h - 1`` is the value ``h`` steps after the window's last row
    (row ``t - window_lag``) and no target ever lies inside its own window.
    With ``window_lag=1`` (the one-step-ahead recipe), column 0 is ``y``
    itself. Values that fall outside the series are NaN.

    Parameters
    ----------
    y : array-like or pandas.Series of shape (n_timesteps,)
        The series, oldest value first.

    horizon : int
        Number of steps ahead, at least 1.

    window_lag : int, default=1
        The ``window_lag`` of the estimator that will be fitted on the
        targets.

    series : array-like of shape (n_timesteps,), default=None
        The series id of each value, for a panel (the ``series_column`` of
        X): the shift then stays inside each series, whose values must be in
        time order (blocked or interleaved), and values beyond the end of
        their own series are NaN.

    Returns
    -------
    Y : ndarray or pandas.DataFrame of shape (n_timesteps, horizon)
        Float targets, NaN where the value lies outside the series (the last
        ``horizon - window_lag`` rows and, for ``window_lag > 1``, the first
        ``window_lag - 1`` rows). A DataFrame with ``y``'s index and columns
        ``"<name>_h1"`` to ``"<name>_h<horizon>"`` when ``y`` is a Series.

    See Also
    --------
    rolling_forecast : Predict a test period from windows over real history.

    Notes
    -----
    Fit on the rows whose targets are all known; they are contiguous, so the
    kept rows of ``X`` still form one series::

        known = ~np.isnan(Y).any(axis=1)
        reg.fit(X[known], Y[known])

    Dropping the trailing rows loses no history, since windows only look
    back. With ``window_lag=0``, the window of the last row ends at the last
    observation, so ``reg.predict(X)[-1]`` forecasts the ``horizon`` values
    after the end of the series.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.forecasting import make_direct_targets
    >>> y = np.arange(5.0)
    >>> make_direct_targets(y, horizon=2, window_lag=1)
    array([[ 0.,  1.],
           [ 1.,  2.],
           [ 2.,  3.],
           [ 3.,  4.],
           [ 4., nan]])
    >>> make_direct_targets(y, horizon=2, window_lag=0)
    array([[ 1.,  2.],
           [ 2.,  3.],
           [ 3.,  4.],
           [ 4., nan],
           [nan, nan]])
    """
    _check_int(horizon, "horizon", 1)
    _check_int(window_lag, "window_lag", 0)
    values = np.asarray(y, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(
            f"y must be one series of shape (n_timesteps,); got shape {values.shape}. "
            "Build the targets of each series separately."
        )
    if series is None:
        Y = _shifted(values, horizon, window_lag)
    else:
        series = np.asarray(series)
        if series.shape != values.shape:
            raise ValueError(
                f"series holds {len(series)} ids for {len(values)} values of y; pass "
                "the id of each value (the series_column of X)."
            )
        Y = np.empty((len(values), horizon))
        layout = layout_of(series)
        for group in range(len(layout.ids)):
            rows = layout.rows(group)
            Y[rows] = _shifted(values[rows], horizon, window_lag)
    if hasattr(y, "index") and hasattr(y, "name"):
        import pandas as pd

        name = "y" if y.name is None else str(y.name)
        columns = [f"{name}_h{h}" for h in range(1, horizon + 1)]
        return pd.DataFrame(Y, index=y.index, columns=columns)
    return Y


def _shifted(values, horizon, window_lag):
    n = len(values)
    Y = np.full((n, horizon), np.nan)
    for h in range(1, horizon + 1):
        shift = h - window_lag  # Y[t, h - 1] = y[t + shift]
        rows = np.arange(max(0, -shift), min(n, n - shift))
        Y[rows, h - 1] = values[rows + shift]
    return Y


def rolling_forecast(estimator, X, start):
    """Predict rows ``start:`` of a series from windows over its real history.

    ``estimator.predict(X[start:])`` would pad the windows of the first
    rows with copies of row ``start``; this passes the rows just before
    ``start`` too, so that every window holds real past values, and returns
    the predictions of rows ``start:`` only. With a ``window_lag >= 1``
    estimator fitted on the rows before ``start`` and X holding the series,
    this is the rolling one-step-ahead forecast of a test period without
    refitting: the prediction of each row uses only the rows before it.

    Parameters
    ----------
    estimator : fitted LSTMRegressor, or a Pipeline ending with one
        Its ``sequence_length`` and ``window_lag`` say how far back windows
        reach. Steps before it in a Pipeline must transform rows
        independently. With ``window="columns"`` every row holds its own
        lags, so this is ``estimator.predict(X[start:])``.

    X : array-like or pandas.DataFrame of shape (n_timesteps, n_features)
        The whole series: history followed by the rows to predict.

    start : int
        First row to predict, in ``[0, n_timesteps)``. Rows before ``start +
        1 - sequence_length - window_lag`` are not used. If ``start`` is
        smaller than that reach, the first predictions use padded windows,
        exactly as in ``estimator.predict(X)``. With an estimator that has a
        ``series_column``, ``start`` counts the rows of each series: rows
        ``start:`` of every series are predicted, each from its own
        series' history.

    Returns
    -------
    y_pred : ndarray of shape (n_timesteps - start,) or \
            (n_timesteps - start, n_outputs)
        Predictions of rows ``start:``, equal to
        ``estimator.predict(X)[start:]``. With a ``series_column``, the
        predictions of the rows from position ``start`` of each series on,
        in X's row order (equal to ``estimator.predict(X)`` on those rows).

    See Also
    --------
    make_direct_targets : Targets for direct multi-step forecasts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.forecasting import rolling_forecast
    >>> y = np.sin(np.arange(200) / 5)
    >>> X = y.reshape(-1, 1)
    >>> reg = LSTMRegressor(sequence_length=10, window_lag=1, hidden_size=16,
    ...                     max_iter=20, random_state=0).fit(X[:160], y[:160])
    >>> y_pred = rolling_forecast(reg, X, start=160)
    >>> y_pred.shape
    (40,)
    >>> bool(np.abs(y_pred - y[160:]).max() < 0.2)
    True
    """
    n_rows = len(X)
    if _ndim(X) != 2:
        raise ValueError(
            "rolling_forecast needs a 2D series of shape (n_timesteps, "
            "n_features); with 3D windows, predict the windows directly."
        )
    _check_int(start, "start", 0)
    if start >= n_rows:
        raise ValueError(
            f"start={start} leaves no row to predict in X with {n_rows} rows; "
            "pass a start below the number of rows."
        )
    final = _final_estimator(estimator)
    reach = _warmup_rows(final)
    if getattr(final, "series_column", None) is not None:
        return _rolling_panel(estimator, X, start, reach, final.series_column)
    first = max(0, start - reach)
    rows = X.iloc[first:] if hasattr(X, "iloc") else np.asarray(X)[first:]
    return estimator.predict(rows)[start - first :]


def _rolling_panel(estimator, X, start, reach, series_column):
    """rolling_forecast of every series: ``start`` counts rows within each."""
    ids, _ = split_series_column(X, series_column)
    layout = layout_of(ids)
    within = np.empty(len(ids), dtype=np.intp)
    within[layout.order] = np.arange(len(ids)) - np.repeat(
        layout.bounds[:-1], layout.lengths
    )
    if start >= layout.lengths.max():
        raise ValueError(
            f"start={start} leaves no row to predict: the longest series has "
            f"{layout.lengths.max()} rows. Pass a start below that."
        )
    used = np.flatnonzero(within >= start - reach)
    rows = X.iloc[used] if hasattr(X, "iloc") else np.asarray(X)[used]
    return estimator.predict(rows)[within[used] >= start]


def _final_estimator(estimator):
    """The estimator itself, or the last step of a Pipeline."""
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _warmup_rows(estimator):
    """Rows of a 2D series before the first one whose window is complete."""
    if getattr(estimator, "window", "rows") != "rows":
        return 0  # each row of a lag table is its own window
    return n_padding_rows(estimator.sequence_length, estimator.window_lag)


def _check_int(value, name, minimum):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}.")
