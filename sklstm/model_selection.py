"""Cross-validation for many series: the same tail period of every series.

scikit-learn's :class:`~sklearn.model_selection.TimeSeriesSplit` slices the
rows of X as one series; on a panel (several series stacked or interleaved)
its test folds hold whole series, or the end of one and the start of the
next. :class:`SeriesTimeSplit` splits each series in time instead.
"""

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from ._panel import layout_of, split_series_column

__all__ = ["SeriesTimeSplit"]


class SeriesTimeSplit(BaseCrossValidator):
    """Time-ordered folds that hold out the same tail period of every series.

    Fold ``k`` of ``n_splits`` tests, in every series, the ``test_size``
    rows that start ``(n_splits - k) * test_size`` rows before the series'
    end, and trains on all earlier rows of every series but the ``gap``
    rows just before the test rows: as
    :class:`~sklearn.model_selection.TimeSeriesSplit` does for one series,
    applied to each. Series are aligned on their last row (they end at the
    same time); their rows must be in time order, stacked block by block or
    interleaved.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.

    series_column : int, str or None, default=None
        The column of X holding the series ids, as the estimator's
        ``series_column``; then ``split(X)`` needs nothing else, so the
        splitter works as ``cv`` in :class:`~sklearn.model_selection.GridSearchCV`
        and :func:`~sklearn.model_selection.cross_validate`. With None, pass
        the ids as ``groups``.

    test_size : int or None, default=None
        Test rows per series and fold; None gives ``n_min // (n_splits + 1)``
        for the shortest series' ``n_min`` rows.

    gap : int, default=0
        Rows of each series left out between its training and test rows.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : The same for one series.

    Notes
    -----
    The test rows of a fold are predicted from their own rows only (that is
    what ``cross_validate`` passes to ``predict``), so their first windows
    are padded; :func:`~sklstm.rolling_forecast` predicts a test period from
    the history before it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.model_selection import SeriesTimeSplit
    >>> X = np.array([["a", 0], ["b", 0], ["a", 1], ["b", 1], ["a", 2], ["b", 2]],
    ...              dtype=object)
    >>> for train, test in SeriesTimeSplit(2, series_column=0).split(X):
    ...     print(train, test)
    [0 1] [2 3]
    [0 1 2 3] [4 5]
    """

    def __init__(self, n_splits=5, *, series_column=None, test_size=None, gap=0):
        self.n_splits = n_splits
        self.series_column = series_column
        self.test_size = test_size
        self.gap = gap

    def get_n_splits(self, X=None, y=None, groups=None):
        """The number of folds, ``n_splits``."""
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` row indices of X, each sorted.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_rows, n_features)
            The panel; its ``series_column`` gives the ids, unless ``groups``
            does.
        y : ignored
        groups : array-like of shape (n_rows,), default=None
            The series id of each row, when ``series_column`` is None.

        Yields
        ------
        train, test : ndarray of int
        """
        self._check_params()
        within, lengths, names = self._positions(X, groups)
        ends = lengths[names]
        test_size = self.test_size or int(lengths.min()) // (self.n_splits + 1)
        n_train = lengths.min() - self.n_splits * test_size - self.gap
        if test_size < 1 or n_train < 1:
            raise ValueError(
                f"The shortest series has {lengths.min()} rows: too few for "
                f"{self.n_splits} folds of {max(test_size, 0)} test rows and a gap "
                f"of {self.gap}. Lower n_splits, test_size or gap."
            )
        from_end = ends - within  # 1 for the last row of each series
        for k in range(self.n_splits):
            first = (self.n_splits - k) * test_size  # rows before the end
            test = (from_end <= first) & (from_end > first - test_size)
            train = from_end > first + self.gap
            yield np.flatnonzero(train), np.flatnonzero(test)

    def _check_params(self):
        for name, minimum in (("n_splits", 2), ("gap", 0)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}.")
        if self.test_size is not None and (
            not isinstance(self.test_size, Integral) or self.test_size < 1
        ):
            raise ValueError(
                f"test_size must be None or an int >= 1; got {self.test_size!r}."
            )

    def _positions(self, X, groups):
        """Each row's position in its series, the series' lengths, and each
        row's series (an index into the lengths)."""
        if groups is None:
            if self.series_column is None:
                raise ValueError(
                    "SeriesTimeSplit needs the series of each row: set "
                    "series_column to the id column of X, or pass groups."
                )
            groups, _ = split_series_column(X, self.series_column)
        layout = layout_of(np.asarray(groups))
        n_rows = len(layout.order)
        within = np.empty(n_rows, dtype=np.intp)
        series = np.empty(n_rows, dtype=np.intp)
        within[layout.order] = np.arange(n_rows) - np.repeat(
            layout.bounds[:-1], layout.lengths
        )
        series[layout.order] = np.repeat(np.arange(len(layout.ids)), layout.lengths)
        return within, layout.lengths, series
