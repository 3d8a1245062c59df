"""Many series in one X: the id column, per-series windows and scalers.

A panel is a 2D X whose column ``series_column`` says which series each row
belongs to; the rows of each series are in time order, the series stacked
block by block or interleaved. The rows are grouped by series with a stable
sort (a :class:`Layout`), each series is padded in front as a single series
is (see ``_windowing``), and the padded series are concatenated into one
float32 tensor whose ``unfold`` view holds every window. Each target row maps
to the index of its window in that view; windows that straddle two series
exist in the view but are never indexed, so no window is copied and none
crosses a series.

Nothing here knows about the estimator; pandas is never required.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ._windowing import _fill


def split_series_column(X, series_column):
    """``(ids, X without the id column)``; X keeps its type (DataFrame or not).

    The id column is split off before numeric validation: ids are often
    strings, which a float conversion of the whole X would refuse.
    """
    if np.ndim(X) == 3 or getattr(X, "ndim", 2) == 3:
        raise ValueError(
            "series_column needs a 2D X of shape (n_timesteps, n_features) "
            "holding a column of series ids; 3D X holds ready-made windows, "
            "which have no series. Pass the 2D panel, or set series_column=None."
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        columns = list(X.columns)
        position = _column_position(series_column, columns, len(columns))
        kept = [i for i in range(len(columns)) if i != position]
        _check_has_features(kept, series_column)
        return X.iloc[:, position].to_numpy(), X.iloc[:, kept]
    if isinstance(series_column, str):
        raise ValueError(
            f"series_column={series_column!r} is a column name, but X has no "
            "column names. Pass X as a pandas DataFrame, or give the column's "
            "position as an int."
        )
    array = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    if array.ndim != 2:
        raise ValueError(
            f"series_column needs a 2D X of shape (n_timesteps, n_features); got "
            f"shape {array.shape}."
        )
    position = _column_position(series_column, None, array.shape[1])
    kept = [i for i in range(array.shape[1]) if i != position]
    _check_has_features(kept, series_column)
    # An id column at either edge leaves a view of the values, not a copy.
    if position == 0:
        return array[:, 0], array[:, 1:]
    if position == array.shape[1] - 1:
        return array[:, position], array[:, :-1]
    return array[:, position], array[:, kept]


def _column_position(series_column, columns, n_columns):
    if isinstance(series_column, str):
        if series_column not in columns:
            raise ValueError(
                f"series_column={series_column!r} is not a column of X (its "
                f"columns are {columns[:10]}{'...' if len(columns) > 10 else ''}). "
                "Pass the name of the column that holds the series ids."
            )
        return columns.index(series_column)
    if not -n_columns <= series_column < n_columns:
        raise ValueError(
            f"series_column={series_column} is out of range for X with "
            f"{n_columns} columns. Pass the position (from 0) of the column that "
            "holds the series ids."
        )
    return series_column % n_columns


def _check_has_features(kept, series_column):
    if not kept:
        raise ValueError(
            f"X holds only the series id column ({series_column!r}); the network "
            "needs at least one feature column besides it. Add the series' own "
            "values (or other features) as columns of X."
        )


def factorize(ids):
    """``(uniques, codes)``: the distinct ids and each row's index into them.

    The ids are sorted when they can be (as scikit-learn sorts ``classes_``),
    so that neither the series list nor the training order depends on how
    the series are interleaved; ids of mixed types keep the order of first
    appearance. Raises when an id is missing (NaN, None).
    """
    ids = np.asarray(ids)
    if ids.dtype.kind in "biuUS" or (ids.dtype.kind == "f" and not np.isnan(ids).any()):
        uniques, codes = np.unique(ids, return_inverse=True)
        return uniques.astype(object), codes.ravel()
    lookup = {}
    codes = np.empty(len(ids), dtype=np.intp)
    for row, value in enumerate(ids.tolist()):
        codes[row] = lookup.setdefault(value, len(lookup))
    uniques = np.empty(len(lookup), dtype=object)
    uniques[:] = list(lookup)
    missing = [u for u in uniques if _is_missing(u)]
    if missing:
        raise ValueError(
            f"The series id column holds missing values ({missing[0]!r}); every "
            "row needs the id of its series. Fill or drop those rows."
        )
    try:
        order = sorted(range(len(uniques)), key=uniques.__getitem__)
    except TypeError:  # ids of types that do not compare
        return uniques, codes
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[codes]


def _is_missing(value):
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA has no truth value
        return True


@dataclass
class Layout:
    """The rows of X grouped by series, each group in the rows' time order.

    ``order[bounds[g]:bounds[g + 1]]`` are the rows of group ``g`` (in X),
    ``ids[g]`` its series id and ``fitted[g]`` its position in the fitted
    series (-1 for a series not seen in ``fit``).
    """

    order: np.ndarray
    bounds: np.ndarray
    ids: np.ndarray
    fitted: np.ndarray

    @property
    def lengths(self):
        return np.diff(self.bounds)

    def rows(self, group):
        return self.order[self.bounds[group] : self.bounds[group + 1]]

    def unseen(self):
        return self.ids[self.fitted < 0]

    def series_of_rows(self):
        """Each row's position in the fitted series (layout order; -1: unseen)."""
        return np.repeat(self.fitted, self.lengths)


class PanelFit(NamedTuple):
    """What a fit on a panel knows: the rows' layout, the series and their
    scalers (None with one pair of scalers for all series)."""

    layout: Layout
    series: np.ndarray
    x_scalers: list | None
    y_scalers: list | None


def layout_of(ids, known=None):
    """The :class:`Layout` of rows with these ``ids``; ``known`` is the fitted
    series list (None while fitting, when every series is its own)."""
    uniques, codes = factorize(ids)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    if known is None:
        fitted = np.arange(len(uniques))
    else:
        lookup = {value: i for i, value in enumerate(known.tolist())}
        fitted = np.array([lookup.get(u, -1) for u in uniques.tolist()], dtype=np.intp)
    return Layout(order=order, bounds=bounds, ids=uniques, fitted=fitted)


def panel_windows(X, layout, sequence_length, window_lag, transforms, device):
    """The windows of every series as one view, and each row's window.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    layout : Layout
    sequence_length, window_lag : int
        As in the estimator.
    transforms : list of callable or None
        The transform of each group of ``layout``.
    device : torch.device

    Returns
    -------
    windows : Tensor of shape (n_windows, sequence_length, n_features)
        An ``unfold`` view of the concatenated padded series.
    index : ndarray of shape (n_rows,)
        For each row in layout order, the index of its window in
        ``windows``; -1 for the first ``window_lag`` rows of each series,
        which have no earlier row.
    """
    n_pad = sequence_length - 1
    lengths = layout.lengths
    starts = np.concatenate([[0], np.cumsum(lengths + n_pad)[:-1]])
    shape = (len(X) + n_pad * len(lengths), X.shape[1])
    series = torch.empty(shape, dtype=torch.float32)
    for group, start in enumerate(starts):
        first = start + n_pad
        block = series[first : first + lengths[group]]
        _fill(block.numpy(), X[layout.rows(group)], transforms[group])
        series[start:first] = series[first]
    windows = series.to(device).unfold(0, sequence_length, 1).transpose(1, 2)
    within = np.arange(len(X)) - np.repeat(layout.bounds[:-1], lengths)
    index = np.repeat(starts, lengths) + within - window_lag
    index[within < window_lag] = -1
    return windows, index


def window_history(layout, index, sequence_length):
    """For each row of :func:`panel_windows`' ``index``, how many of its
    window's last rows are real rather than warm-up padding."""
    n_pad = sequence_length - 1
    starts = np.concatenate([[0], np.cumsum(layout.lengths + n_pad)[:-1]])
    within = index - np.repeat(starts, layout.lengths)
    return np.clip(within - n_pad + sequence_length, 1, sequence_length)


def per_series_tails(layout, index, validation_fraction, gap, split):
    """Training and validation positions (layout order): the last
    ``validation_fraction`` of each series' targets validate, the ``gap``
    targets before them are used by neither, as ``split`` rules for one series.
    """
    train, validation = [], []
    has_window = index >= 0
    for group in range(len(layout.ids)):
        lo, hi = layout.bounds[group], layout.bounds[group + 1]
        targets = lo + np.flatnonzero(has_window[lo:hi])
        try:
            train_rows, val_rows = split(len(targets), validation_fraction, gap)
        except ValueError as error:
            raise ValueError(
                f"Series {layout.ids[group]!r} is too short for per-series "
                f"validation ({len(targets)} target rows). {error} Drop or lengthen "
                "that series, or lower sequence_length."
            ) from None
        train.append(targets[train_rows.start : train_rows.stop])
        validation.append(targets[val_rows.start : val_rows.stop])
    return np.concatenate(train), np.concatenate(validation)


def fit_series_scalers(fit_one, data, layout, active=None):
    """One scaler per group, ``fit_one(rows)`` on that series' rows (its
    ``active`` rows when any)."""
    scalers = []
    for group in range(len(layout.ids)):
        rows = layout.rows(group)
        if active is not None and active[rows].any():
            rows = rows[active[rows]]
        scalers.append(fit_one(data[rows]))
    return scalers


def group_transforms(layout, per_series, fallback, method):
    """``method`` of each group's scaler: its series' own, else ``fallback``."""
    chosen = []
    for code in layout.fitted:
        scaler = fallback if per_series is None or code < 0 else per_series[code]
        chosen.append(None if scaler is None else getattr(scaler, method))
    return chosen


def scaled_rows(data, layout, transforms, device):
    """Float32 tensor of ``data`` in layout order, each group transformed."""
    out = torch.empty((len(data), data.shape[1]), dtype=torch.float32)
    flat = out.numpy()
    for group, transform in enumerate(transforms):
        lo, hi = layout.bounds[group], layout.bounds[group + 1]
        _fill(flat[lo:hi], data[layout.rows(group)], transform)
    return out.to(device)


def inverse_rows(scaled, layout, inverses):
    """``scaled`` (layout order) mapped back per group, in X's row order."""
    out = np.empty_like(scaled)
    for group, inverse in enumerate(inverses):
        lo, hi = layout.bounds[group], layout.bounds[group + 1]
        part = scaled[lo:hi]
        out[layout.rows(group)] = part if inverse is None else inverse(part)
    return out


def naive_scale_weights(y, layout, floor=1e-3):
    """Per row (layout order), the inverse of its series' mean squared
    one-step change of ``y`` (in the scaled units the loss sees), as M5's
    RMSSE scales errors: without it, series whose steps are small in their
    scaled units (smooth, trending ones) weigh next to nothing in the loss.
    See :func:`inverse_mean_squares` for ``floor``.
    """
    steps = np.empty(len(layout.ids))
    for group in range(len(layout.ids)):
        part = y[layout.bounds[group] : layout.bounds[group + 1]]
        steps[group] = np.mean(np.diff(part, axis=0) ** 2) if len(part) > 1 else np.nan
    return np.repeat(inverse_mean_squares(steps, floor), layout.lengths)


def inverse_mean_squares(mean_squares, floor=1e-3):
    """``1 / mean_squares``, one a series, as loss weights: a series with
    none (NaN) gets the median series', and none gets more than one whose
    mean square is ``floor`` times the median's (a series with no change
    or no error would otherwise take all the weight)."""
    known = mean_squares[np.isfinite(mean_squares) & (mean_squares > 0)]
    median = np.median(known) if len(known) else 1.0
    mean_squares = np.where(np.isfinite(mean_squares), mean_squares, median)
    return 1.0 / np.maximum(mean_squares, floor * median)


def short_series_message(layout, needed):
    """A warning text when some series are too short for a window of history."""
    short = layout.ids[layout.lengths < needed]
    if not len(short):
        return None
    names = ", ".join(repr(s) for s in short[:5]) + ("..." if len(short) > 5 else "")
    return (
        f"{len(short)} series have fewer than sequence_length + window_lag = "
        f"{needed} rows ({names}): their first windows are padded with copies of "
        "their first row. Pass the preceding rows too (see rolling_forecast) or "
        "lower sequence_length."
    )
