"""The linear skip's autoregressions, solved from one pass over the windows.

Every model here is linear in the window, so all of them are fitted from the
Gram matrices of the flattened windows (with a column of ones) and their
products with the targets: the data are read once, whatever the number of
models, and each model's normal equations are a small transform of those
sums. Nothing here knows about the network: :func:`window_sums` accumulates
the sums, and :meth:`LSTMNet.fit_skip <sklstm._model.LSTMNet.fit_skip>`
solves and stores the result.
"""

import math

import torch

# The combination's shortest windows: a short, a medium and a long memory,
# each stretched to hold one season and the value before it.
_COMBINED_LENGTHS = (5, 10, 20)
# Fewest windows per coefficient for a model of the combination, chosen on
# the validation splits (linear part alone, RMSE over the better of AutoETS
# and AutoARIMA): 6 kept the 17 single series about where they were without
# a floor (0.948x, against 0.944x) and brought the skip fitted per series on
# the short yearly panel to 0.95x, from 1.7x; 5 left that at 1.11x, 8 cost
# the single series 0.968x.
_WINDOWS_PER_COEFFICIENT = 6
# Share of the training windows (the last ones) on which the combination's
# weights are measured; see combined().
_HOLDOUT_FRACTION = 0.2
# The KPSS test's 5% critical value for level stationarity (Kwiatkowski,
# Phillips, Schmidt and Shin 1992, table 1), AutoARIMA's for its differences.
_KPSS_CRITICAL_VALUE = 0.463


def combined_lengths(sequence_length, seasonal_period=None):
    """Window lengths of the combination, at most ``sequence_length`` each.

    5, 10 and 20 rows, and every whole number of seasons and one row that
    fits, from two seasons on; each at least one season and one row (so that
    every model sees the value one season back).
    """
    season = seasonal_period or 1
    wanted = set(_COMBINED_LENGTHS)
    if season > 1:
        wanted.update(range(2 * season + 1, sequence_length + 1, season))
    return sorted({min(sequence_length, max(n, season + 1)) for n in wanted})


class WindowSums:
    """Sums of ``z z^T`` and ``z target^T`` over windows, by their history.

    ``z`` is a flattened window with a trailing one. Windows are grouped by
    how many of their last rows are real (not warm-up copies of the first
    row), so that each regression can use every window that holds the rows
    it reads and no other.
    """

    def __init__(self):
        self._sums = {}  # real rows -> [gram, moment, count, sum of t^2]

    def add(self, design, target, history):
        for real in torch.unique(history).tolist():
            rows = history == real
            z, t = design[rows].double(), target[rows].double()
            entry = self._sums.setdefault(real, [0.0, 0.0, 0, 0.0])
            entry[0] = entry[0] + (z.T @ z).cpu()
            entry[1] = entry[1] + (z.T @ t).cpu()
            entry[2] += len(z)
            entry[3] = entry[3] + float(t.square().sum())

    def over(self, n_rows, n_coefficients):
        """``(gram, moment)`` over the windows whose last ``n_rows`` are
        real, or over all windows where those are too few to fit
        ``n_coefficients``."""
        gram, moment, _, _ = self._totals(n_rows, n_coefficients)
        return gram, moment

    def count(self, n_rows):
        """Number of windows whose last ``n_rows`` are real."""
        return sum(s[2] for real, s in self._sums.items() if real >= n_rows)

    def mean_squared_error(self, weights, n_rows):
        """Mean squared error of the forecasts ``z @ weights`` over the
        windows whose last ``n_rows`` are real (all where there are none),
        summed over the outputs."""
        gram, moment, count, square = self._totals(n_rows)
        error = (
            square - 2 * (weights * moment).sum() + (weights * (gram @ weights)).sum()
        )
        return max(float(error), 0.0) / count

    def _totals(self, n_rows, too_few=0):
        """Each sum over the windows whose last ``n_rows`` are real, or over
        all windows where those number at most ``too_few``."""
        kept = [s for real, s in self._sums.items() if real >= n_rows]
        if sum(s[2] for s in kept) <= too_few:
            kept = list(self._sums.values())
        return [sum(column) for column in zip(*kept)]

    def __iadd__(self, other):
        for real, (gram, moment, count, square) in other._sums.items():
            entry = self._sums.setdefault(real, [0.0, 0.0, 0, 0.0])
            entry[0] = entry[0] + gram
            entry[1] = entry[1] + moment
            entry[2] += count
            entry[3] = entry[3] + square
        return self


# Windows a pass reads at a time, to bound the memory of their flat copies.
CHUNK = 4096


def flat_with_one(x):
    """Windows ``x`` flattened, with a trailing column of ones: the ``z``
    every linear model here is a function of."""
    return torch.cat([x.flatten(1), x.new_ones((len(x), 1))], dim=1)


def window_sums(windows, y, weight=None, history=None, index=None, chunk=CHUNK):
    """The :class:`WindowSums` of the targets ``y`` and their windows.

    ``index`` gives each target's window in ``windows`` (a panel's view of
    all series; None: window ``i`` is target ``i``'s); ``history`` how many
    of each window's last rows are real (None: all); ``weight`` weights each
    target's squared error.
    """
    sequence_length = windows.shape[1]
    sums = WindowSums()
    for start in range(0, len(y), chunk):
        x = (
            windows[start : start + chunk]
            if index is None
            else windows.index_select(0, index[start : start + chunk])
        )
        target = y[start : start + chunk]
        design = flat_with_one(x)
        if weight is not None:
            root = weight[start : start + chunk, None].sqrt()
            design, target = design * root, target * root
        real = (
            torch.full((len(x),), sequence_length, device=x.device)
            if history is None
            else history[start : start + chunk]
        )
        sums.add(design, target, real)
    return sums


def split_window_sums(windows, y, weight=None, history=None, index=None):
    """The :func:`window_sums` of one series' targets (in time order) split
    into those of the earlier windows and of the later ones (the last
    ``_HOLDOUT_FRACTION``); see :func:`joined`."""
    cut = len(y) - math.ceil(_HOLDOUT_FRACTION * len(y))

    def part(rows):
        return window_sums(
            windows if index is not None else windows[rows],
            y[rows],
            None if weight is None else weight[rows],
            None if history is None else history[rows],
            None if index is None else index[rows],
        )

    return part(slice(None, cut)), part(slice(cut, None))


def joined(earlier, later):
    """The sums over both parts, and the ``holdout`` of :func:`combined`
    (None where a part has no window)."""
    sums = WindowSums()
    sums += earlier
    sums += later
    holdout = (earlier, later) if earlier.count(0) and later.count(0) else None
    return sums, holdout


def least_squares(sums, sequence_length, centre, alpha):
    """Weights of the regression of ``target - centre . z`` on the window.

    ``sums`` is a :class:`WindowSums` of windows of ``sequence_length``
    rows; ``centre`` (over ``z``) is what the network adds to the skip (the
    window's centre under window normalisation), so the skip is fitted to
    the rest. ``alpha``, a tiny ridge penalty, only keeps the solve well
    posed. Returns weights over ``z``, one column an output.
    """
    gram, moment = sums.over(sequence_length, len(centre))
    return _solve(gram, moment - gram @ centre[:, None], alpha)


def kpss_statistic(series):
    """The KPSS statistic of level stationarity of a 1D ``series``.

    The long-run variance is Newey and West's on ``int(3 sqrt(n) / 13)``
    lags, as in R's ``forecast::ndiffs`` and statsforecast's AutoARIMA. A
    constant series scores 0.
    """
    n = len(series)
    residual = series - series.mean()
    variance = residual @ residual / n
    n_lags = int(3 * n**0.5 / 13)
    for lag in range(1, n_lags + 1):
        weight = 1 - lag / (n_lags + 1)
        variance = variance + 2 * weight * (residual[lag:] @ residual[:-lag]) / n
    if variance <= 0:
        return 0.0
    return float(residual.cumsum(0).square().sum() / (n * n * variance))


def n_differences(series, max_differences=2):
    """How many times ``series`` is differenced before the KPSS test stops
    rejecting level stationarity at 5%, at most ``max_differences`` (the
    ``ndiffs`` of AutoARIMA)."""
    series = torch.as_tensor(series, dtype=torch.float64).flatten()
    differences = 0
    while (
        differences < max_differences
        and len(series) > 3
        and kpss_statistic(series) > _KPSS_CRITICAL_VALUE
    ):
        series = series.diff()
        differences += 1
    return differences


def target_differences(y, weight=None):
    """:func:`n_differences` of the targets' first column, in time order,
    over the targets of positive weight."""
    if weight is not None:
        y = y[weight > 0]
    return n_differences(y[:, 0])


def combined(
    sums,
    centre,
    lengths,
    n_features,
    target_feature,
    alpha,
    differences=0,
    holdout=None,
):
    """A weighted mean of autoregressions on levels, changes and changes of
    changes.

    For each length ``n``: the regression of the target on the last ``n``
    rows of the window; that of the target's change from the last value of
    feature ``target_feature`` on the ``n - 1`` changes between those rows,
    with a drift (an autoregression of the differenced series, which a
    trending series needs and a stationary one tolerates); and that of the
    target's departure from the straight line through the last two values
    on the ``n - 2`` second differences, without a constant (a smooth
    trend's local slope). Each is fitted on the windows whose last ``n``
    rows are real, and only where those are at least
    ``_WINDOWS_PER_COEFFICIENT`` times its coefficients (the smallest model
    where none is): long autoregressions on short series fit noise. Where
    the series needs two differences (``differences``, from
    :func:`n_differences` on the training targets), only the models on
    second differences: the others extrapolate a trend that is itself
    changing.

    Combining forecasts of several orders and forms hedges the choice
    between them, which short series cannot make reliably (the
    forecast-combination result). With ``holdout``, a pair of
    :class:`WindowSums` splitting ``sums`` into earlier and later windows,
    each model is weighted by the inverse square of its mean squared error
    on the later windows when fitted on the earlier ones, and otherwise
    equally. Each model is a linear function of the window, and so is the
    mix. Returns weights over ``z`` (see :func:`least_squares`), less
    ``centre``.
    """
    models = _models(len(centre) - 1, lengths, n_features, target_feature)
    if differences >= 2:
        # The second-difference models are the ones without an intercept.
        models = [model for model in models if not model[3]] or models
    fits = [(sums.count(m[0]) / m[1].shape[1], m) for m in models]
    kept = [m for ratio, m in fits if ratio >= _WINDOWS_PER_COEFFICIENT]
    if not kept:
        kept = [max(fits, key=lambda f: f[0])[1]]
    weights = torch.ones(len(kept), dtype=torch.float64)
    if holdout is not None and len(kept) > 1:
        earlier, later = holdout
        errors = torch.tensor(
            [later.mean_squared_error(_fit(earlier, m, alpha), m[0]) for m in kept],
            dtype=torch.float64,
        )
        # Relative to the best model's error, so that a model exact on the
        # later windows takes all the weight instead of overflowing.
        best = errors.min()
        weights = torch.where(errors == best, 1.0, best / errors).square()
    weights = weights / weights.sum()
    total = sum(w * _fit(sums, m, alpha) for w, m in zip(weights.tolist(), kept))
    return total - centre[:, None]


def _models(n_inputs, lengths, n_features, target_feature):
    """The combination's models: ``(n, design, base, intercept)``, each the
    regression of ``target - base . z`` on ``design``'s map of the last
    ``n`` rows."""
    sequence_length = n_inputs // n_features
    last = torch.zeros(n_inputs + 1, dtype=torch.float64)
    last[(sequence_length - 1) * n_features + target_feature] = 1.0
    line = 2 * last - last.roll(-n_features)  # through the last two values
    models = []
    for n in lengths:
        first = (sequence_length - n) * n_features
        models.append((n, _levels(n_inputs, first), torch.zeros_like(last), True))
        models.append((n, _changes(n_inputs, first, n_features), last, True))
        if n >= 3:
            second = _changes(n_inputs, first, n_features, order=2)
            models.append((n, second, line, False))
    return models


def _fit(sums, model, alpha):
    """One model of the combination fitted on ``sums``, as weights over ``z``."""
    n, design, base, intercept = model
    gram, moment = sums.over(n, design.shape[1])
    residual = moment - gram @ base[:, None]
    coef = _solve(design.T @ gram @ design, design.T @ residual, alpha, intercept)
    return design @ coef + base[:, None]


def _levels(n_inputs, first):
    """Map from the last inputs (from ``first`` on) and an intercept to ``z``."""
    design = torch.zeros((n_inputs + 1, n_inputs - first + 1), dtype=torch.float64)
    design[first:, :].fill_diagonal_(1.0)
    return design


def _changes(n_inputs, first, n_features, order=1):
    """Map from the differences between the last rows to ``z``.

    Column ``j`` is one feature's difference of ``order`` (1: between
    consecutive rows, ``z[first + n_features + j] - z[first + j]``; 2: of
    those), then, for ``order=1``, an intercept.
    """
    n_rows = (n_inputs - first) // n_features
    # Rows of the last n_rows, from which each difference is a combination.
    step = torch.zeros((n_rows, n_rows - 1), dtype=torch.float64)
    cols = torch.arange(n_rows - 1)
    step[cols + 1, cols] = 1.0
    step[cols, cols] = -1.0
    if order == 2:
        step = step[:, 1:] - step[:, :-1]
    rows = torch.kron(step, torch.eye(n_features, dtype=torch.float64))
    design = torch.zeros(
        (n_inputs + 1, rows.shape[1] + (order == 1)), dtype=torch.float64
    )
    design[first:n_inputs, : rows.shape[1]] = rows
    if order == 1:
        design[-1, -1] = 1.0
    return design


def _solve(gram, moment, alpha, intercept=True):
    # No penalty on the intercept, the last coefficient (when there is one).
    penalty = torch.full((gram.shape[0],), float(alpha), dtype=gram.dtype)
    if intercept:
        penalty[-1] = 0.0
    return torch.linalg.solve(gram + torch.diag(penalty), moment)
