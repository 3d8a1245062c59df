"""The linear skip's autoregressions, solved from one pass over the windows.

Every model here is linear in the window, so all of them are fitted from the
Gram matrices of the flattened windows (with a column of ones) and their
products with the targets: the data are read once, whatever the number of
models, and each model's normal equations are a small transform of those
sums. Nothing here knows about the network; :meth:`LSTMNet.fit_skip
<sklstm._model.LSTMNet.fit_skip>` accumulates the sums and stores the result.
"""

import torch

# The combination's shortest windows: a short, a medium and a long memory,
# each stretched to hold one season and the value before it.
_COMBINED_LENGTHS = (5, 10, 20)


def combined_lengths(sequence_length, seasonal_period=None):
    """Window lengths of the combination, at most ``sequence_length`` each.

    5, 10 and 20 rows, and two seasons and one row where that is longer,
    each at least one season and one row (so that every model sees the value
    one season back).
    """
    season = seasonal_period or 1
    wanted = (*_COMBINED_LENGTHS, max(10, 2 * season + 1))
    return sorted({min(sequence_length, max(n, season + 1)) for n in wanted})


class WindowSums:
    """Sums of ``z z^T`` and ``z target^T`` over windows, by their history.

    ``z`` is a flattened window with a trailing one. Windows are grouped by
    how many of their last rows are real (not warm-up copies of the first
    row), so that each regression can use every window that holds the rows
    it reads and no other.
    """

    def __init__(self):
        self._sums = {}  # real rows -> [gram, moment, count]

    def add(self, design, target, history):
        for real in torch.unique(history).tolist():
            rows = history == real
            z, t = design[rows].double(), target[rows].double()
            entry = self._sums.setdefault(real, [0.0, 0.0, 0])
            entry[0] = entry[0] + (z.T @ z).cpu()
            entry[1] = entry[1] + (z.T @ t).cpu()
            entry[2] += len(z)

    def over(self, n_rows, n_coefficients):
        """``(gram, moment)`` over the windows whose last ``n_rows`` are
        real, or over all windows where those are too few to fit
        ``n_coefficients``."""
        kept = [s for real, s in self._sums.items() if real >= n_rows]
        if sum(s[2] for s in kept) <= n_coefficients:
            kept = list(self._sums.values())
        return sum(s[0] for s in kept), sum(s[1] for s in kept)


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


def combined(sums, centre, lengths, n_features, target_feature, alpha):
    """The mean of autoregressions on levels and on changes, over ``lengths``.

    For each length ``n``: the regression of the target on the last ``n``
    rows of the window, and that of the target's change from the last value
    of feature ``target_feature`` on the ``n - 1`` changes between those
    rows (an autoregression of the differenced series with a drift, which
    a trending series needs and a stationary one tolerates), each on the
    windows whose last ``n`` rows are real. Averaging forecasts of several
    orders and of both forms hedges the choice between them, which short
    series cannot make reliably (the forecast-combination result); each
    model is a linear function of the window, and so is their mean. Returns
    weights over ``z`` (see :func:`least_squares`), less ``centre``.
    """
    n_inputs = len(centre) - 1
    sequence_length = n_inputs // n_features
    last = torch.zeros(n_inputs + 1, dtype=torch.float64)
    last[(sequence_length - 1) * n_features + target_feature] = 1.0
    total = 0.0
    for n in lengths:
        gram, moment = sums.over(n, n * n_features + 1)
        first = (sequence_length - n) * n_features
        for design, base in (
            (_levels(n_inputs, first), torch.zeros_like(last)),
            (_changes(n_inputs, first, n_features), last),
        ):
            residual = moment - gram @ base[:, None]
            coef = _solve(design.T @ gram @ design, design.T @ residual, alpha)
            total = total + design @ coef + base[:, None]
    return total / (2 * len(lengths)) - centre[:, None]


def _levels(n_inputs, first):
    """Map from the last inputs (from ``first`` on) and an intercept to ``z``."""
    design = torch.zeros((n_inputs + 1, n_inputs - first + 1), dtype=torch.float64)
    design[first:, :].fill_diagonal_(1.0)
    return design


def _changes(n_inputs, first, n_features):
    """Map from the changes between the last rows, and an intercept, to ``z``.

    Column ``j`` is ``z[first + n_features + j] - z[first + j]``: one
    feature's change between consecutive rows.
    """
    n_changes = n_inputs - first - n_features
    design = torch.zeros((n_inputs + 1, n_changes + 1), dtype=torch.float64)
    cols = torch.arange(n_changes)
    design[first + n_features + cols, cols] = 1.0
    design[first + cols, cols] = -1.0
    design[-1, -1] = 1.0
    return design


def _solve(gram, moment, alpha):
    # No penalty on the intercept, the last coefficient.
    penalty = torch.full((gram.shape[0],), float(alpha), dtype=gram.dtype)
    penalty[-1] = 0.0
    return torch.linalg.solve(gram + torch.diag(penalty), moment)
