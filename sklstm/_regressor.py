"""LSTMRegressor: a PyTorch LSTM as a scikit-learn regressor."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    check_X_y,
    validate_data,
)

from ._autoregression import (
    combined_lengths,
    joined,
    split_window_sums,
    target_differences,
    window_sums,
)
from ._lag_windows import lag_windows, n_lag_variables
from ._model import LSTMNet
from ._panel import (
    PanelFit,
    fit_series_scalers,
    group_transforms,
    inverse_rows,
    layout_of,
    naive_scale_weights,
    panel_windows,
    per_series_tails,
    scaled_rows,
    short_series_message,
    split_series_column,
    window_history,
)
from ._pickling import plain_state, torch_state
from ._seasonal import centre_step
from ._series_skip import fit_series_skips, series_corrections, skip_error_weights
from ._training import (
    History,
    LoopSettings,
    TrainingData,
    convergence_warning,
    predict_indexed,
    predict_windows,
    run_epochs,
    seed_from_random_state,
    torch_threads,
)
from ._windowing import (
    n_padding_rows,
    n_rows_without_history,
    padded_series,
    scaled_tensor,
    series_windows,
)

_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")
_X_SCALER = [None, StrOptions({"minmax"}), HasMethods(["fit", "transform"])]
_Y_SCALER = [
    None,
    StrOptions({"minmax"}),
    HasMethods(["fit", "transform", "inverse_transform"]),
]


def _history_view(name):
    return property(lambda self: getattr(self._history, name))


class LSTMRegressor(RegressorMixin, BaseEstimator):
    """Long short-term memory network regressor over windows of a time series.

    The estimator cuts the series into windows of ``sequence_length`` rows
    itself, scales X and y (MinMax by default), trains an ``nn.LSTM`` with a
    linear head on the last time step with Adam, and inverse-scales its
    predictions. Defaults reproduce the classic tutorial configuration
    (hidden size 50, 2 layers, Adam with learning rate 1e-3, squared error,
    batch size 16, 100 epochs).

    Parameters
    ----------
    sequence_length : int, default=10
        Number of rows in each window; with ``window="columns"``, the number
        of lags of each variable (the time steps of the window).

    window_lag : int, default=0
        How many rows before the target row the window ends. With 0, the
        target of row ``t`` is explained by rows ``t - sequence_length + 1`` to
        ``t`` (its own row included), which is right when X holds the
        concurrent values of the features. With 1, the window ends one row
        before its target: a one-step-ahead forecast, the classic tutorial's
        alignment, which is right when X holds the series being forecast.
        See Notes. Must be 0 with ``window="columns"``, whose rows already
        hold their lags.

    window : {"rows", "columns", "columns_oldest_first"}, default="rows"
        Where a window comes from. ``"rows"``: a 2D X is one series and the
        window of row ``t`` is made of rows of X (see ``window_lag``).
        ``"columns"``: every row of X is its own window, its columns the lags
        of one or more variables, as skforecast's ``ForecasterRecursive`` and
        ``ForecasterDirect`` build them: a block of ``sequence_length``
        columns per variable, most recent lag first (``lag_1 ... lag_k``),
        then ``exog_columns`` exogenous columns. ``"columns_oldest_first"``
        reads blocks whose oldest lag comes first, sktime's
        ``make_reduction`` layout. The network always reads the lags oldest
        first; rows are independent, so there is no warm-up padding. See
        Notes.

    exog_columns : int, default=0
        With ``window="columns"``, the number of last columns of X that are
        not lags but values known at the target's own time step
        (skforecast's exogenous columns): they are repeated along the window
        as extra features. Must be 0 with ``window="rows"``.

    series_column : int, str or None, default=None
        The column of X that says which series each row belongs to, for
        one model over many series (a panel): its position, or its name when
        X is a DataFrame. Ids may be any hashable values (strings, ints);
        they are never fed to the network. The rows of each series must be
        in time order; the series may be stacked block by block or
        interleaved (by date, say). Every window lies inside one series,
        each series is padded at its start as a single series is, and
        predictions come back in X's row order. The id column counts in
        ``n_features_in_``. Needs ``window="rows"`` and a 2D X. See
        "Many series" in the user guide.

    series_scaling : {"per_series", "global"}, default="per_series"
        With ``series_column``: ``"per_series"`` fits a clone of
        ``x_scaler`` and of ``y_scaler`` on each series' own rows, so that
        series of different levels all reach the network in the same
        range (measured better in ``benchmarks/panel.py``); ``"global"``
        fits one of each on all rows. Either way ``x_scaler_`` and
        ``y_scaler_`` are fitted on all rows, the fallback for series not
        seen in ``fit``.

    series_weighting : {"naive", "skip"} or None, default="naive"
        With ``series_column``: ``"naive"`` weights the loss of each
        series' rows by the inverse of its mean squared one-step change (in
        ``y_scaler``'s units, on the rows given to ``fit``), as M5's RMSSE
        scales errors, so that a smooth trending series, whose steps are
        tiny in its scaled units, counts as much as a noisy one (measured in
        ``benchmarks/panel.py``: without it the global model ignored the
        trends). ``"skip"``, with ``linear_skip``, by the inverse of the
        mean squared error of the series' own linear skip on its training
        rows, so that the LSTM learns relative to what each skip leaves and
        does not disturb a series its skip forecasts well (``"naive"``
        without ``linear_skip``). Multiplies ``sample_weight``. None weighs
        every row alike.

    unseen_series : {"warn", "error"}, default="warn"
        What ``predict`` does with series not seen in ``fit``: ``"warn"``
        predicts them with the scalers fitted on all rows and warns;
        ``"error"`` raises a ValueError that names them.

    hidden_size : int, default=50
        Number of features in the hidden state of each LSTM layer.

    num_layers : int, default=2
        Number of stacked LSTM layers.

    dropout : float, default=0.0
        Dropout probability between LSTM layers (ignored with one layer).

    bidirectional : bool, default=False
        Whether the LSTM also reads each window backwards.

    n_estimators : int, default=1
        Number of independently initialised networks (a deep ensemble)
        trained together in one fit, on the same mini-batches, each with its
        own weights, dropout masks and gradient clipping; the prediction is
        their mean and ``predict(X, return_std=True)`` also returns their
        spread. The members run as one stacked computation: five cost about
        4.3x one network at the tutorial's sizes (five fits: 5x; see the
        README's benchmark). With 1, the network is a fused ``nn.LSTM``. ``loss_curve_`` is the members' mean
        training loss; early stopping monitors the validation loss of the
        ensemble's mean prediction and restores all members at its best
        epoch.

    linear_skip : bool or "combined", default=False
        Add a linear autoregression on the window (in ``x_scaler``'s units,
        not normalised, so that it keeps the series' level) to the network's
        output. It is fitted in closed form on the training windows when the
        model is initialised and then held fixed, and the head starts at
        zero, so training teaches the LSTM what the linear model misses.
        ``True``: the least-squares regression on the whole window.
        ``"combined"``, for a series that is its own target (column 0 of X):
        a weighted mean of the autoregressions on the last 5, 10 and 20 rows
        and on every whole number of seasons from two, and one row (each at
        least a season and one row, at most the window; on the windows
        without warm-up padding, as for ``True``),
        each on the levels of the series, on its changes (with a drift) and
        on its second differences (the departure from the line through the
        last two values), whose forecasts hedge the choice of order and of
        differencing that short series cannot make reliably; a model is left
        out where the series has fewer than 6 windows per coefficient, and
        only the models on second differences are kept where the KPSS test
        (at 5%, as AutoARIMA) finds that the training targets need two
        differences. Each model's weight is the inverse square of its mean
        squared error on the last 20% of the training windows (of each
        series, with ``series_column``) when fitted on the earlier ones.
        It is still a linear function of the window, fitted in one pass
        over it.
        Short series, on which an LSTM alone fits the noise, gain most (see
        :func:`~sklstm.make_forecaster`); ``warm_start`` and ``partial_fit``
        keep it as fitted. With ``series_column``, each series gets the skip
        of its own training windows (``series_skip_coef_``) and series not
        seen in ``fit`` the one fitted on all of them.

    window_normalization : {"standard", "last", "seasonal"} or None, default=None
        With ``"standard"``, each window is standardised by its own mean and
        standard deviation (per feature, after ``x_scaler``), and the
        network's output is mapped back with the statistics of column
        ``target_feature``: the model predicts relative to the recent level,
        so it can follow trends and level shifts beyond the training range.
        ``"last"`` subtracts the window's last row instead of its mean (and
        still divides by the standard deviation), so the network predicts
        the change from the last value, in units of the window's spread: an
        untrained head forecasts the last value. ``"seasonal"`` subtracts the
        value one season before the target instead (``seasonal_period`` rows
        back, which the window must hold): the network predicts the change
        from the seasonal naive forecast. Use these for forecasting, where
        that column holds the target's own past values
        (:func:`~sklstm.make_forecaster` gives the recommended recipe);
        leave them off when rows are independent.

    seasonal_period : int or None, default=None
        Number of rows in one season of the series (statsforecast's
        ``season_length``): 12 for monthly data with a yearly cycle, 4 for
        quarterly, 52 for weekly, 24 for hourly data with a daily cycle.
        Used by ``window_normalization="seasonal"``; it must be at least
        ``window_lag``, shorter than the training series, and
        ``sequence_length`` must be at least ``seasonal_period - window_lag +
        1``. Never guessed: :func:`~sklstm.seasonal_period_of`
        reads the usual period off a pandas ``DatetimeIndex``.

    target_feature : int, default=0
        Column of X holding the target's own past values, used by
        ``window_normalization``; with ``window="columns"``, the variable
        (the lag block, counted from 0) holding them.

    x_scaler, y_scaler : "minmax", transformer or None, default="minmax"
        Scaling applied to X (column-wise) and y before training, fitted on
        the data given to ``fit`` only. ``"minmax"`` is a
        :class:`~sklearn.preprocessing.MinMaxScaler`; any transformer with
        ``fit``/``transform`` (and ``inverse_transform`` for y) is cloned and
        used; None trains on the raw values.

    loss : {"squared_error", "absolute_error", "huber", "quantile"}, \
            default="squared_error"
        Training loss, computed on the scaled targets. ``"absolute_error"``
        targets the median and is robust to outliers; ``"huber"`` is squared
        for residuals below ``huber_delta`` and absolute above;
        ``"quantile"`` is the pinball loss of quantile ``quantile``, so that
        two models (for example 0.05 and 0.95) give a prediction interval.
        Quantiles survive any increasing ``y_scaler``, as the default MinMax
        scaling is.

    huber_delta : float, default=1.0
        Threshold of the Huber loss, in units of the scaled target.

    quantile : float, default=0.5
        The quantile predicted with ``loss="quantile"``, in (0, 1)
        (HistGradientBoostingRegressor's name); ignored by the other losses.

    alpha : float, default=0.0
        Strength of the L2 penalty on the weights (not the biases). As in
        MLPRegressor, the penalty ``0.5 * alpha * ||W||^2`` is divided by the
        batch size; it is applied through Adam's weight decay.

    batch_size : int, default=16
        Windows per mini-batch.

    learning_rate : {"constant", "adaptive"}, default="constant"
        ``"adaptive"`` divides the learning rate by 5 each time the stopping
        rule (see ``n_iter_no_change``) fires, and only stops once it is
        below 1e-6, as in :class:`~sklearn.neural_network.MLPRegressor`.

    learning_rate_init : float, default=1e-3
        Adam's initial step size.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and numerical stabiliser.

    max_grad_norm : float or None, default=None
        Clip the gradient's global L2 norm to this value before each step.

    max_iter : int, default=100
        Maximum number of epochs (passes over all windows).

    shuffle : bool, default=True
        Whether to shuffle the windows each epoch. With False, mini-batches
        follow the time order.

    tol : float, default=1e-4
        Minimal improvement of the monitored loss; see ``n_iter_no_change``.

    n_iter_no_change : int or np.inf, default=10
        Training stops when more than this many epochs in a row fail to
        improve the training loss (or the validation loss, with
        ``early_stopping``) by at least ``tol``, as in MLPRegressor. Use
        ``np.inf`` to always run ``max_iter`` epochs (the tutorial's fixed
        100).

    early_stopping : bool, default=False
        Hold out the *last* ``validation_fraction`` of the rows (never a
        shuffled sample, which would leak the future), monitor the loss on
        them each epoch, and restore the weights of the best epoch at the
        end. For a 2D series, the ``sequence_length - 1 + window_lag`` rows
        before the validation part are not used as targets, so that no
        validation window overlaps a training target.

    validation_fraction : float, default=0.1
        Fraction of rows (or windows) held out with ``early_stopping``.

    warm_start : bool, default=False
        Continue from the fitted weights, scalers and optimizer state on the
        next ``fit`` instead of starting anew.

    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where to train and predict. ``"auto"`` picks CUDA when available.
        A fitted model pickles to the CPU, so it loads on any machine.

    n_threads : int or None, default=1
        Torch intra-op threads used during ``fit`` and ``predict``; the
        caller's setting is restored afterwards. One thread is as fast as two
        for models of this size and does not oversubscribe the cores under
        ``GridSearchCV(n_jobs=...)``, Dask or other busy processes. None keeps
        torch's current setting.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout, without touching
        torch's or numpy's global random state. An int makes ``fit``
        repeatable bit for bit on the same machine.

    verbose : int, default=0
        0 prints nothing, 1 a line per epoch (loss, validation loss,
        seconds), 2 a live progress bar. Nothing is ever written to disk.

    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted network.

    x_scaler_, y_scaler_ : transformer or None
        The fitted scalers.

    loss_ : float
        Training loss of the last epoch, in scaled units.

    loss_curve_ : list of float
        Training loss of each epoch (mean over the epoch's mini-batches).

    validation_scores_ : list of float or None
        With ``early_stopping``, the validation loss of each epoch, in the
        training loss's units (lower is better; unlike MLPRegressor's R^2).

    best_validation_score_ : float or None
        Lowest validation loss, whose weights were restored.

    best_loss_ : float
        Lowest training loss reached.

    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of training windows seen.

    n_outputs_ : int
        Number of target columns.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when X has string column names.

    device_ : torch.device
        Device the model was trained on.

    series_ : ndarray of shape (n_series,)
        With ``series_column``, the series ids seen in ``fit``, sorted (in
        order of first appearance when ids of different types do not sort).

    series_x_scalers_, series_y_scalers_ : list of transformer or None
        With ``series_scaling="per_series"``, the fitted scalers of each
        series of ``series_`` (None entries without scaler); None with
        ``"global"``.

    series_skip_coef_ : ndarray of shape (n_series, n_inputs + 1, n_outputs)
        With ``series_column`` and ``linear_skip``, each series' linear skip
        less the one fitted on all series (which ``module_`` holds), as
        weights over a flattened scaled window and a trailing one.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.

    Notes
    -----
    **Input.** A 2D ``X`` of shape ``(n_timesteps, n_features)`` is one
    time-ordered series, oldest row first, and ``y[t]`` is the target of row
    ``t``; the estimator builds one window per row and returns one prediction
    per row. A 3D ``X`` of shape ``(n_samples, sequence_length, n_features)``
    is a batch of ready-made windows with one target each.

    **Alignment.** With ``sequence_length=3``, the window of row ``t`` is::

        window_lag=0:  rows t-2, t-1, t      (concurrent features)
        window_lag=1:  rows t-3, t-2, t-1    (one-step-ahead forecast)

    On data whose rows are independent, only ``window_lag=0`` lets the model
    see the row that explains its target.

    **Lag columns.** With ``window="columns"`` and ``sequence_length=3``, a
    row ``[a_1, a_2, a_3, b_1, b_2, b_3, e]`` (variables ``a`` and ``b``,
    lag 1 most recent, one exogenous column) is read as the window::

        step 1:  a_3, b_3, e
        step 2:  a_2, b_2, e
        step 3:  a_1, b_1, e

    ``"columns_oldest_first"`` reads ``[a_3, a_2, a_1, b_3, b_2, b_1]``
    the same way. The number of variables is ``(n_features_in_ -
    exog_columns) / sequence_length``; any other column count is a
    ValueError. ``x_scaler`` scales each column of X as given. 3D X is
    refused (pass a 3D batch with ``window="rows"``), and
    :func:`~sklstm.rolling_forecast` is plain ``predict``.

    **Warm-up rows.** The first ``sequence_length - 1 + window_lag`` rows have
    too little history; their windows are padded with copies of the first row
    of the X at hand, identically in ``fit`` and ``predict``. With
    ``window_lag >= 1`` the first ``window_lag`` rows have no earlier row at
    all (a padded window would hold only rows at or after the target, a
    look-ahead): they are not used as training or validation targets, and
    ``predict`` gives them the output for an all-zero window (in scaled
    units), a constant that carries no information about their targets. No
    window ever holds its target's row or a later one. To predict the rows
    of a test period from real history, pass the preceding rows too and drop
    their predictions (:func:`~sklstm.rolling_forecast` does it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> reg = LSTMRegressor(sequence_length=5, hidden_size=16, max_iter=30,
    ...                     random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.9)
    True

    A lag table, as forecasting libraries build it (``lag_1`` most recent),
    each row its own window:

    >>> series = np.sin(np.arange(203) / 4)
    >>> X_lags = np.column_stack([series[3 - k : 203 - k] for k in (1, 2, 3)])
    >>> reg = LSTMRegressor(3, window="columns", hidden_size=16, max_iter=30,
    ...                     random_state=0).fit(X_lags, series[3:])
    >>> reg.predict(X_lags[:1]).shape
    (1,)

    A deep ensemble of three networks, trained in one fit, and the spread of
    their predictions:

    >>> ensemble = LSTMRegressor(sequence_length=5, hidden_size=8, max_iter=5,
    ...                          n_estimators=3, random_state=0).fit(X, y)
    >>> mean, std = ensemble.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    """

    _parameter_constraints: dict = {
        "sequence_length": [Interval(Integral, 1, None, closed="left")],
        "window_lag": [Interval(Integral, 0, None, closed="left")],
        "window": [StrOptions({"rows", "columns", "columns_oldest_first"})],
        "exog_columns": [Interval(Integral, 0, None, closed="left")],
        "series_column": [None, Interval(Integral, None, None, closed="neither"), str],
        "series_scaling": [StrOptions({"per_series", "global"})],
        "series_weighting": [None, StrOptions({"naive", "skip"})],
        "unseen_series": [StrOptions({"warn", "error"})],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "bidirectional": ["boolean"],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "linear_skip": ["boolean", StrOptions({"combined"})],
        "window_normalization": [None, StrOptions({"standard", "last", "seasonal"})],
        "seasonal_period": [None, Interval(Integral, 1, None, closed="left")],
        "target_feature": [Interval(Integral, 0, None, closed="left")],
        "x_scaler": _X_SCALER,
        "y_scaler": _Y_SCALER,
        "loss": [StrOptions({"squared_error", "absolute_error", "huber", "quantile"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        sequence_length=10,
        *,
        window_lag=0,
        window="rows",
        exog_columns=0,
        series_column=None,
        series_scaling="per_series",
        series_weighting="naive",
        unseen_series="warn",
        hidden_size=50,
        num_layers=2,
        dropout=0.0,
        bidirectional=False,
        n_estimators=1,
        linear_skip=False,
        window_normalization=None,
        seasonal_period=None,
        target_feature=0,
        x_scaler="minmax",
        y_scaler="minmax",
        loss="squared_error",
        huber_delta=1.0,
        quantile=0.5,
        alpha=0.0,
        batch_size=16,
        learning_rate="constant",
        learning_rate_init=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_grad_norm=None,
        max_iter=100,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        device="cpu",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        self.sequence_length = sequence_length
        self.window_lag = window_lag
        self.window = window
        self.exog_columns = exog_columns
        self.series_column = series_column
        self.series_scaling = series_scaling
        self.series_weighting = series_weighting
        self.unseen_series = unseen_series
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.n_estimators = n_estimators
        self.linear_skip = linear_skip
        self.window_normalization = window_normalization
        self.seasonal_period = seasonal_period
        self.target_feature = target_feature
        self.x_scaler = x_scaler
        self.y_scaler = y_scaler
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_grad_norm = max_grad_norm
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to a series (2D X) or to ready-made windows (3D X).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_samples, sequence_length, n_features)
            A time-ordered series, or a batch of windows.

        y : array-like of shape (n_timesteps,) or (n_timesteps, n_outputs)
            Target of each row (or window).

        sample_weight : array-like of shape (n_timesteps,), default=None
            Weight of each row's (or window's) loss. A row of weight 0 still
            serves as history in other rows' windows but has no influence as
            a target: it is also left out when fitting ``y_scaler``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on the given data.

        The first call initialises the model and fits the scalers on this
        data; later calls continue the weights, optimizer state and random
        stream, so two calls on the same data equal ``fit`` with
        ``max_iter=2`` under the same ``random_state``. Early stopping and
        the stopping rule do not apply.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_samples, sequence_length, n_features)
            A time-ordered series, or a batch of windows.

        y : array-like of shape (n_timesteps,) or (n_timesteps, n_outputs)
            Target of each row (or window).

        sample_weight : array-like of shape (n_timesteps,), default=None
            Weight of each row's (or window's) loss.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, incremental):
        # validate_data records the new data's feature count and names; put
        # the old ones back if this fit fails, so the fitted model stays usable.
        saved = {k: v for k, v in vars(self).items() if k in _INPUT_ATTRIBUTES}
        try:
            with torch_threads(self.n_threads):
                return self._fit_checked(X, y, sample_weight, incremental)
        except BaseException:
            for name in _INPUT_ATTRIBUTES:
                vars(self).pop(name, None)
            vars(self).update(saved)
            raise

    def _fit_checked(self, X, y, sample_weight, incremental):
        resume = (incremental or self.warm_start) and hasattr(self, "module_")
        ids = None
        if self.series_column is not None:
            ids, X = self._split_series(X, reset=not resume)
        X, y2, y_1d, sample_weight = self._validate_fit_input(
            X, y, sample_weight, resume
        )
        device = _resolve_device(self.device)
        if resume:
            x_scaler, y_scaler = self.x_scaler_, self.y_scaler_
        else:
            # Rows of weight 0 have no influence as targets, on the scale
            # neither; as history of other rows they are scaled with X, unless
            # every row is its own window. Rows without history still count, so
            # that for a series that is its own target, X's and y's scales
            # agree, as window normalisation needs (it maps its output back in
            # X's units).
            active = slice(None) if sample_weight is None else sample_weight > 0
            x_rows = X[active] if self._lag_columns else X
            x_scaler = _fitted_scaler(self.x_scaler, x_rows.reshape(-1, X.shape[-1]))
            y_scaler = _fitted_scaler(self.y_scaler, y2[active])
        if ids is None:
            train, validation = self._training_sets(
                X, y2, sample_weight, x_scaler, y_scaler, device, incremental
            )
        else:
            panel = self._panel_fit_state(ids, X, y2, sample_weight, resume)
            train, validation = self._panel_training_sets(
                X, y2, sample_weight, panel, x_scaler, y_scaler, device, incremental
            )
        module, optimizer, history, rng_state, stopped, skips = self._train(
            train,
            validation,
            X.shape[-1],
            y2.shape[1],
            device,
            resume,
            incremental,
            None if ids is None else len(panel.series),
        )

        self.module_ = module
        self.x_scaler_, self.y_scaler_ = x_scaler, y_scaler
        self._set_series_state(None if ids is None else panel, skips)
        self.device_ = device
        self.n_outputs_ = y2.shape[1]
        if not resume:
            self._y_1d = y_1d
        self._history = history
        self._rng_state = rng_state
        self._optimizer_state = optimizer.state_dict()
        if not stopped and not incremental and math.isfinite(self.n_iter_no_change):
            convergence_warning(self.max_iter)
        return self

    def _validate_fit_input(self, X, y, sample_weight, resume):
        """Validated X, y as 2D, whether y was 1D, and validated sample_weight."""
        X, y = self._validate_fit_data(X, y, reset=not resume)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, ensure_non_negative=True
            )
        skip = self._rows_without_history(X)
        if skip == len(X):
            raise ValueError(
                f"X has {len(X)} rows, but with window_lag={self.window_lag} the "
                f"first {self.window_lag} rows have no earlier row to form a window "
                f"and are not used as targets. Pass at least {self.window_lag + 1} "
                "rows."
            )
        if sample_weight is not None and not sample_weight[skip:].any():
            rows = f" of rows {skip} onwards (the rows with history)" if skip else ""
            raise ValueError(
                f"All sample weights{rows} are zero; give some rows a positive weight."
            )
        y2 = y.reshape(len(y), -1)
        _check_finite_range(X.reshape(-1, X.shape[-1]), "X")
        _check_finite_range(y2, "y")
        if resume and y2.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y2.shape[1]} columns, but this {type(self).__name__} was "
                f"fitted with {self.n_outputs_}. Use warm_start=False to refit."
            )
        if resume and self.n_estimators != self.module_.n_members:
            raise ValueError(
                f"n_estimators={self.n_estimators}, but this "
                f"{type(self).__name__} was fitted with "
                f"{self.module_.n_members} members. Use warm_start=False to refit, "
                "or set n_estimators back."
            )
        if self.window_normalization == "seasonal":
            self._centre_step(None if X.ndim == 3 or self._lag_columns else len(X))
        n_variables = self._window_features(X.shape[-1])[0]
        if self.window_normalization is not None and self.target_feature >= n_variables:
            what = "lag block" if self._lag_columns else "column"
            raise ValueError(
                f"target_feature={self.target_feature} is out of range for X with "
                f"{n_variables} {what}s; it must name the {what} of X that holds "
                "the target's past values."
            )
        return X, y2, y.ndim == 1, sample_weight

    def _training_sets(
        self, X, y2, sample_weight, x_scaler, y_scaler, device, incremental
    ):
        """The training and (with early stopping) validation TrainingData.

        Only rows that have a window are targets (see ``_windowing``).
        """
        windows = self._windows(X, x_scaler, device)
        skip = len(y2) - len(windows)
        y2 = y2[skip:]
        y_t = scaled_tensor(y2, _transform_of(y_scaler), device)
        weight = None
        if sample_weight is not None:
            weight = torch.as_tensor(
                sample_weight[skip:], dtype=torch.float32, device=device
            )
        independent = X.ndim == 3 or self._lag_columns
        history = None
        if not independent:
            # Window i ends at row i of the series: only its last i + 1 rows
            # are real, the others copies of row 0.
            history = torch.arange(1, len(y2) + 1, device=device)
            history = history.clamp_max(self.sequence_length)
        if not self.early_stopping or incremental:
            rows = range(len(y2))
            return _training_data(windows, y_t, weight, rows, history=history), None
        gap = (
            0 if independent else n_padding_rows(self.sequence_length, self.window_lag)
        )
        train_rows, val_rows = time_ordered_split(
            len(y2), self.validation_fraction, gap
        )
        return (
            _training_data(windows, y_t, weight, train_rows, history=history),
            _training_data(windows, y_t, weight, val_rows, history=history),
        )

    def _train(
        self,
        train,
        validation,
        n_features,
        n_outputs,
        device,
        resume,
        incremental,
        n_series=None,
    ):
        """Train copies of the fitted state, so a failed fit leaves it intact.

        Also returns a panel's per-series skip corrections (None without).
        """
        settings = LoopSettings(
            loss=self.loss,
            huber_delta=self.huber_delta,
            quantile=self.quantile,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            max_grad_norm=self.max_grad_norm,
            tol=self.tol,
            n_iter_no_change=math.inf if incremental else self.n_iter_no_change,
            adaptive_learning_rate=self.learning_rate == "adaptive",
            verbose=self.verbose,
        )
        skips = None
        if resume:
            module = copy.deepcopy(self.module_).to(device)
            history = copy.deepcopy(self._history)
            if train.series is not None:
                skips = getattr(self, "series_skip_coef_", None)
        else:
            history = History(learning_rate=self.learning_rate_init)
        if validation is not None and history.validation_scores is None:
            history.validation_scores = []
        # The fit owns its generator: torch's process-wide one is never read
        # or reseeded, so concurrent fits in threads stay reproducible.
        generator = torch.Generator()
        if resume:
            generator.set_state(self._rng_state)
        else:
            generator.manual_seed(seed_from_random_state(self.random_state))
            module = self._build_module(n_features, n_outputs, generator).to(device)
            if self.linear_skip:
                skips = self._fit_skip(module, train, n_series)
        if skips is not None:
            # The network learns what each series' own skip leaves.
            for data in (train, validation):
                if data is not None:
                    data.y -= series_corrections(
                        data.windows, data.index, data.series, skips
                    )
            if self.series_weighting == "skip":
                skip_error_weights(module, train, validation, len(skips))
        optimizer = self._optimizer(module, history.learning_rate)
        if resume:
            # Continue Adam's moments under the current hyperparameters
            # (alpha, betas, epsilon), not those saved with the state.
            state = optimizer.state_dict()
            state["state"] = self._optimizer_state["state"]
            optimizer.load_state_dict(state)
        # A DivergenceError (a ValueError) leaves the fitted state intact.
        stopped = run_epochs(
            module,
            optimizer,
            settings,
            train,
            validation,
            1 if incremental else self.max_iter,
            history,
            generator,
        )
        rng_state = generator.get_state()
        return module, optimizer, history, rng_state, stopped, skips

    def predict(self, X, return_std=False):
        """Predict the target of each row (2D X) or window (3D X).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_samples, sequence_length, n_features)
            A time-ordered series, or a batch of windows. For a series, the
            first rows' windows are padded (see Notes of the class).

        return_std : bool, default=False
            Also return the standard deviation of the ensemble's members
            (``n_estimators >= 2``), in ``y``'s units: the spread of
            independently trained networks, an estimate of the model's
            uncertainty (not of the noise in ``y``; for intervals of the
            target, see ``loss="quantile"``).

        Returns
        -------
        y_pred : ndarray of shape (n_timesteps,) or (n_timesteps, n_outputs)
            One prediction per row, shaped like ``y`` in ``fit``: the mean of
            the members' predictions, each mapped back by ``y_scaler``.

        y_std : ndarray, shaped like ``y_pred``
            The members' standard deviation; only with ``return_std=True``.
        """
        check_is_fitted(self)
        if return_std and self.module_.n_members == 1:
            raise ValueError(
                "return_std=True needs an ensemble: the spread of one network is "
                "undefined. Fit with n_estimators >= 2 (5 is a good start)."
            )
        if hasattr(self, "series_"):
            return self._predict_panel(X, return_std)
        X = self._validate_predict_data(X)
        device = next(self.module_.parameters()).device
        with torch_threads(self.n_threads):
            windows = self._windows(X, self.x_scaler_, device)
            scaled = predict_windows(
                self.module_, windows, self.n_outputs_, len(X) - len(windows)
            )
        # Each member mapped back on its own: for a nonlinear y_scaler the
        # mean in y's units is not the inverse of the mean in scaled units.
        return self._members_prediction(
            [self._inverse_y(member) for member in scaled], return_std
        )

    def _inverse_y(self, scaled):
        if self.y_scaler_ is None:
            return scaled
        return np.asarray(self.y_scaler_.inverse_transform(scaled), dtype=np.float64)

    def _members_prediction(self, members, return_std):
        """The mean (and spread) of the members' predictions, in y's units."""
        members = np.stack(members)
        if not np.isfinite(members).all():
            # Scaled inputs beyond float32's range (about 3.4e38) reach the
            # network as inf, and outputs beyond y's range can overflow when
            # y_scaler maps them back; say so rather than return NaN.
            raise ValueError(
                "The model produced non-finite predictions: X is far outside the "
                "training data, or X or y hold values near the float limits. "
                "Check them for extreme values and rescale them."
            )
        y = members[0] if len(members) == 1 else members.mean(axis=0)
        if return_std:
            return self._shaped(y), self._shaped(members.std(axis=0))
        return self._shaped(y)

    def _shaped(self, y):
        return y.ravel() if self._y_1d else y

    # Read-only views of the History, so that warm starts continue one object
    # and the fitted state is committed in one place.
    loss_curve_ = _history_view("loss_curve")
    best_loss_ = _history_view("best_loss")
    validation_scores_ = _history_view("validation_scores")
    best_validation_score_ = _history_view("best_validation_score")
    n_iter_ = _history_view("n_iter")
    t_ = _history_view("t")

    @property
    def loss_(self):
        return self._history.loss_curve[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        return tags

    def __getstate__(self):
        # Numpy arrays instead of torch objects: skops can store them, and
        # the pickle loads on machines without CUDA (see _pickling).
        return plain_state(self.__dict__)

    def __setstate__(self, state):
        # Pickles of sklstm 0.1 lack the parameters added since; their
        # defaults are the behaviour those models were trained with.
        defaults = LSTMRegressor.__init__.__kwdefaults__
        vars(self).update({k: v for k, v in defaults.items() if k not in state})
        vars(self).update(torch_state(state))

    # -- helpers, in the order fit uses them --------------------------------

    @property
    def _lag_columns(self):
        return self.window != "rows"

    def _check_window_params(self):
        """Reject parameter combinations that have no meaning for ``window``."""
        if self._lag_columns and self.window_lag:
            raise ValueError(
                f"window_lag={self.window_lag} has no meaning with "
                f"window={self.window!r}: each row already holds its own lags. "
                "Set window_lag=0 (shift the lags themselves to forecast further "
                "ahead)."
            )
        if not self._lag_columns and self.exog_columns:
            raise ValueError(
                f"exog_columns={self.exog_columns} applies to window='columns' "
                "only; with window='rows' every column of X is a feature of each "
                "time step. Set exog_columns=0 or window='columns'."
            )

    def _window_features(self, n_features):
        """``(n_variables, n_inputs)``: the variables whose past the windows
        hold, and the features per time step the network reads."""
        if not self._lag_columns:
            return n_features, n_features
        n_variables = n_lag_variables(
            n_features, self.sequence_length, self.exog_columns
        )
        return n_variables, n_variables + self.exog_columns

    def _reject_3d_lag_columns(self, X):
        if self._lag_columns and _ndim(X) == 3:
            raise ValueError(
                f"window={self.window!r} reads each row of a 2D X as one window "
                "of lag columns, but X is 3D. Pass the 2D lag table, or set "
                "window='rows' to pass 3D windows."
            )

    def _validate_fit_data(self, X, y, reset):
        self._check_window_params()
        if self.series_column is not None:
            # _split_series has checked the whole X's feature names and count.
            return check_X_y(
                X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32]
            )
        self._reject_3d_lag_columns(X)
        if _ndim(X) == 3:
            X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
            y = check_array(
                y, ensure_2d=False, dtype=[np.float64, np.float32], input_name="y"
            )
            check_consistent_length(X, y)
            if X.shape[2] < 1:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a "
                    f"minimum of 1 is required by {type(self).__name__}."
                )
            self._check_window_length(X)
            if reset:
                self.n_features_in_ = X.shape[2]
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif X.shape[2] != self.n_features_in_:
                raise ValueError(_n_features_message(self, X.shape[2]))
            return X, y
        _reject_high_dims(X)
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
        )

    def _validate_predict_data(self, X):
        self._reject_3d_lag_columns(X)
        if _ndim(X) == 3:
            X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
            self._check_window_length(X)
            if X.shape[2] != self.n_features_in_:
                raise ValueError(_n_features_message(self, X.shape[2]))
            return X
        _reject_high_dims(X)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _check_window_length(self, X):
        if X.shape[1] != self.sequence_length:
            raise ValueError(
                f"3D X holds windows of {X.shape[1]} rows, but sequence_length="
                f"{self.sequence_length}. Set sequence_length={X.shape[1]} or pass "
                "the 2D series (n_timesteps, n_features) and let the estimator "
                "build the windows."
            )

    def _rows_without_history(self, X):
        """First rows of a 2D series that get no window (see ``_windowing``)."""
        if X.ndim == 3 or self._lag_columns:
            return 0
        return n_rows_without_history(len(X), self.window_lag)

    def _windows(self, X, x_scaler, device):
        """The windows of the rows that have history, all rows for 3D X."""
        transform = _transform_of(x_scaler)
        if X.ndim == 3:
            return scaled_tensor(X, transform, device)
        if self._lag_columns:
            newest_first = self.window == "columns"
            return lag_windows(
                X,
                self.sequence_length,
                self.exog_columns,
                newest_first,
                transform,
                device,
            )
        needed = self.sequence_length + self.window_lag
        if len(X) < needed:
            blind = (
                f", and the first {n_rows_without_history(len(X), self.window_lag)} "
                "rows, which have no earlier row, are predicted from an all-zero "
                "window"
                if self.window_lag
                else ""
            )
            warnings.warn(
                f"X has {len(X)} rows, fewer than sequence_length + window_lag = "
                f"{needed}: no row has a window of real history. Windows are "
                f"padded with copies of the first row{blind}. Pass the preceding "
                "rows too (see rolling_forecast) or lower sequence_length.",
                UserWarning,
            )
        series = padded_series(X, self.sequence_length, transform, device)
        return series_windows(series, self.sequence_length, self.window_lag)

    def _build_module(self, n_features, n_outputs, generator=None):
        """The network for X with ``n_features`` columns (3D: features)."""
        return LSTMNet(
            self._window_features(n_features)[1],
            n_outputs,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            window_normalization=self.window_normalization,
            target_feature=self.target_feature,
            centre_step=self._centre_step(),
            linear_skip=bool(self.linear_skip),
            sequence_length=self.sequence_length,
            n_exog=self.exog_columns,
            n_members=self.n_estimators,
            generator=generator,
        )

    def _fit_skip(self, module, train, n_series):
        """Fit the linear skip on the windows that hold the rows it reads;
        for a panel, each series' own too (their corrections are returned).

        Copies of the first row make poor lags: on short series with long
        windows they pulled the combined autoregression far off (RMSE 1.33x
        instead of 0.81x AutoETS on the validation split of austres).
        """
        lengths = None
        if self.linear_skip == "combined":
            lengths = combined_lengths(self.sequence_length, self.seasonal_period)
        if train.series is not None:
            return fit_series_skips(module, train, n_series, lengths)
        if lengths is None:
            sums = window_sums(train.windows, train.y, train.weight, train.history)
            module.fit_skip(sums)
            return None
        sums, holdout = joined(
            *split_window_sums(train.windows, train.y, train.weight, train.history)
        )
        differences = target_differences(train.y, train.weight)
        module.fit_skip(sums, lengths, differences=differences, holdout=holdout)
        return None

    def _centre_step(self, n_rows=None):
        """Window row of the value normalisation centres on (-1: the last)."""
        if self.window_normalization != "seasonal":
            return -1
        # A lag table's last step is lag_1, the row before the target.
        lag = 1 if self._lag_columns else self.window_lag
        return centre_step(self.seasonal_period, self.sequence_length, lag, n_rows)

    def _optimizer(self, module, learning_rate):
        # MLPRegressor's penalty 0.5 * alpha * ||W||^2 / batch_size on the
        # weights (not the biases) has the gradient alpha / batch_size * W.
        weights = [p for name, p in module.named_parameters() if "bias" not in name]
        biases = [p for name, p in module.named_parameters() if "bias" in name]
        if self.alpha == 0:
            # One group (same parameter order): fused Adam runs once per step.
            groups = [{"params": weights + biases}]
        else:
            groups = [
                {"params": weights, "weight_decay": self.alpha / self.batch_size},
                {"params": biases, "weight_decay": 0.0},
            ]
        return torch.optim.Adam(
            groups,
            lr=learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            # Fused Adam was the fastest on CPU (plain 1.23x, foreach 1.21x).
            fused=True,
        )

    # -- many series (series_column); the machinery is in _panel ------------

    def _split_series(self, X, reset):
        """``(ids, X without the id column)``, checking the whole X's feature
        names and count: the id column is a column of X."""
        if self._lag_columns:
            raise ValueError(
                f"series_column applies to window='rows'; with window={self.window!r} "
                "every row is its own window and no window can cross a series. Drop "
                "the id column, or set window='rows'."
            )
        if not reset and self.series_column is None:
            raise ValueError(
                "This model was fitted on many series but series_column is now None; "
                "set it back to the id column, or refit."
            )
        if not reset and _ndim(X) == 2:
            # A wrong width is named as such before the id column is looked up.
            _check_n_features(self, X, reset=False)
        ids, X_values = split_series_column(X, self.series_column)
        _check_feature_names(self, X, reset=reset)
        _check_n_features(self, X, reset=reset)
        return ids, X_values

    def _panel_fit_state(self, ids, X, y2, sample_weight, resume):
        """The layout of the rows and the series' scalers (the fitted ones when
        resuming, when series new to the model use the global fallback)."""
        if resume:
            layout = layout_of(ids, self.series_)
            self._check_unseen(layout)
            return PanelFit(
                layout, self.series_, self.series_x_scalers_, self.series_y_scalers_
            )
        layout = layout_of(ids)
        if self.series_scaling == "global":
            return PanelFit(layout, layout.ids, None, None)
        active = None if sample_weight is None else sample_weight > 0
        x_scalers = fit_series_scalers(
            lambda rows: _fitted_scaler(self.x_scaler, rows), X, layout
        )
        y_scalers = fit_series_scalers(
            lambda rows: _fitted_scaler(self.y_scaler, rows), y2, layout, active
        )
        return PanelFit(layout, layout.ids, x_scalers, y_scalers)

    def _panel_training_sets(
        self, X, y2, sample_weight, panel, x_scaler, y_scaler, device, incremental
    ):
        """The training and validation sets of a panel: windows per series,
        validation on the last rows of every series."""
        layout, x_scalers, y_scalers = panel.layout, panel.x_scalers, panel.y_scalers
        x_tf = group_transforms(layout, x_scalers, x_scaler, "transform")
        windows, index = panel_windows(
            X, layout, self.sequence_length, self.window_lag, x_tf, device
        )
        y_tf = group_transforms(layout, y_scalers, y_scaler, "transform")
        y_t = scaled_rows(y2, layout, y_tf, device)
        weight = None if sample_weight is None else sample_weight[layout.order]
        # "skip" weights the loss later, once the skip is fitted (_train);
        # without a skip it falls back to "naive".
        if self.series_weighting == "naive" or (
            self.series_weighting == "skip" and not self.linear_skip
        ):
            balance = naive_scale_weights(y_t.cpu().numpy(), layout)
            weight = balance if weight is None else weight * balance
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
        index_t = torch.as_tensor(index, device=device)
        history = window_history(layout, index, self.sequence_length)
        history = torch.as_tensor(history, device=device)
        series = torch.as_tensor(layout.series_of_rows(), device=device)
        if not self.early_stopping or incremental:
            targets = np.flatnonzero(index >= 0)
            data = _training_data(
                windows, y_t, weight, targets, index_t, history, series
            )
            return data, None
        gap = n_padding_rows(self.sequence_length, self.window_lag)
        train_rows, val_rows = per_series_tails(
            layout, index, self.validation_fraction, gap, time_ordered_split
        )
        return tuple(
            _training_data(windows, y_t, weight, rows, index_t, history, series)
            for rows in (train_rows, val_rows)
        )

    def _set_series_state(self, panel, skips=None):
        if skips is None:
            vars(self).pop("series_skip_coef_", None)
        else:
            self.series_skip_coef_ = np.asarray(torch.as_tensor(skips).cpu())
        if panel is None:
            for name in ("series_", "series_x_scalers_", "series_y_scalers_"):
                vars(self).pop(name, None)
            return
        self.series_ = panel.series
        self.series_x_scalers_, self.series_y_scalers_ = (
            panel.x_scalers,
            panel.y_scalers,
        )

    def _check_unseen(self, layout):
        unseen = layout.unseen()
        if not len(unseen):
            return
        names = ", ".join(repr(s) for s in unseen[:10])
        names += "..." if len(unseen) > 10 else ""
        if self.unseen_series == "error":
            raise ValueError(
                f"X holds {len(unseen)} series not seen in fit: {names}. Fit on them "
                "too, or set unseen_series='warn' to predict them with the scalers "
                "fitted on all series."
            )
        warnings.warn(
            f"X holds {len(unseen)} series not seen in fit ({names}); they are "
            "scaled with the scalers fitted on all series.",
            UserWarning,
        )

    def _predict_panel(self, X, return_std):
        ids, X = self._split_series(X, reset=False)
        X = check_array(X, dtype=[np.float64, np.float32])
        layout = layout_of(ids, self.series_)
        self._check_unseen(layout)
        message = short_series_message(layout, self.sequence_length + self.window_lag)
        if message:
            warnings.warn(message, UserWarning)
        device = next(self.module_.parameters()).device
        x_tf = group_transforms(
            layout, self.series_x_scalers_, self.x_scaler_, "transform"
        )
        with torch_threads(self.n_threads):
            windows, index = panel_windows(
                X, layout, self.sequence_length, self.window_lag, x_tf, device
            )
            scaled = predict_indexed(self.module_, windows, index, self.n_outputs_)
            skips = getattr(self, "series_skip_coef_", None)
            if skips is not None:
                index_t = torch.as_tensor(index, device=device)
                series = torch.as_tensor(layout.series_of_rows(), device=device)
                corrections = series_corrections(windows, index_t, series, skips)
                scaled = scaled + corrections.cpu().numpy()
        inverses = group_transforms(
            layout, self.series_y_scalers_, self.y_scaler_, "inverse_transform"
        )
        members = [
            np.asarray(inverse_rows(member, layout, inverses), dtype=np.float64)
            for member in scaled
        ]
        return self._members_prediction(members, return_std)


def time_ordered_split(n_rows, validation_fraction, gap):
    """Ranges of training and validation targets; validation rows are the last.

    The ``gap`` rows just before the validation part are used by neither, so
    that no validation window (which reaches ``gap`` rows back) covers a
    training target.
    """
    n_val = math.ceil(validation_fraction * n_rows)
    n_train = n_rows - n_val - gap
    if n_val < 1 or n_train < 1:
        raise ValueError(
            f"The validation set is too small: {n_rows} rows leave {n_val} "
            f"validation and {max(n_train, 0)} training rows (with a gap of {gap} "
            "rows between them). Increase 'validation_fraction' or the size of "
            "your dataset, or set early_stopping=False."
        )
    return range(n_train), range(n_rows - n_val, n_rows)


def _training_data(windows, y, weight, rows, index=None, history=None, series=None):
    """The TrainingData of the contiguous target ``rows``, as views; for a
    panel, of the target positions ``rows`` whose windows ``index`` holds
    and whose series ``series`` holds. ``history`` holds how many of each
    target's window rows are real (not padding)."""
    if index is not None:
        part = torch.as_tensor(rows, device=y.device)
    else:
        part = slice(rows.start, rows.stop)
        windows = windows[part]
    if weight is not None:
        weight = _normalised_weight(weight[part])
    return TrainingData(
        windows,
        y[part],
        weight,
        index=None if index is None else index[part],
        history=None if history is None else history[part],
        series=None if series is None else series[part],
    )


def _normalised_weight(weight):
    total = weight.sum()
    if total <= 0:
        raise ValueError(
            "The sample weights of the training (or validation) rows sum to "
            "zero; give some of them a positive weight."
        )
    return weight * (len(weight) / total)


def _fitted_scaler(spec, data):
    if spec is None:
        return None
    scaler = MinMaxScaler() if isinstance(spec, str) else clone(spec)
    return scaler.fit(data)


def _transform_of(scaler):
    return None if scaler is None else scaler.transform


def _check_finite_range(data, name):
    # A column spanning more than the float range makes the scalers divide by
    # inf: every value would scale to the same number, or back to NaN.
    with np.errstate(over="ignore"):
        overflows = data.size and not np.isfinite(np.ptp(data, axis=0)).all()
    if overflows:
        raise ValueError(
            f"The range of {name} overflows {data.dtype}: it holds values near "
            f"the float limits of both signs. Rescale {name} (for example divide "
            "it by a large constant) before fitting."
        )


def _resolve_device(device):
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' but torch finds no CUDA device. Use device='cpu' or "
            "device='auto'."
        )
    return torch.device(device)


def _ndim(X):
    if isinstance(X, (list, tuple)):
        try:
            return np.ndim(X)
        except ValueError:  # ragged nested lists; validate_data explains it
            return 2
    return getattr(X, "ndim", 2)


def _reject_high_dims(X):
    ndim = _ndim(X)
    if ndim > 3:
        raise ValueError(
            f"X has {ndim} dimensions. Pass a 2D series of shape (n_timesteps, "
            "n_features) or 3D windows of shape (n_samples, sequence_length, "
            "n_features)."
        )


def _n_features_message(estimator, n_features):
    return (
        f"X has {n_features} features, but {type(estimator).__name__} is expecting "
        f"{estimator.n_features_in_} features as input."
    )
