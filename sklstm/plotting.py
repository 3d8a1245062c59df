"""Display objects for a fitted LSTMRegressor, in scikit-learn's Display style.

Each display stores the data it draws, is built with ``from_estimator`` (or
``from_predictions``) and draws with ``plot(ax=...)``, after which it holds the
matplotlib artists (``ax_``, ``figure_``, ``line_``...). matplotlib is imported
inside ``plot`` only, so that ``import sklstm`` stays free of ``pyplot`` (whose
import picks a GUI backend and costs a noticeable fraction of a second).

For residuals, use :class:`sklearn.metrics.PredictionErrorDisplay` on the
predictions: it needs nothing specific to time series.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._panel import split_series_column
from ._regressor import _ndim
from .forecasting import _final_estimator, _warmup_rows


def _axes(ax):
    """The given axes, or new ones on a new figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _check_fitted_history(estimator):
    check_is_fitted(estimator)
    if not hasattr(estimator, "loss_curve_"):
        raise TypeError(
            f"{type(estimator).__name__} has no loss_curve_; pass a fitted "
            "LSTMRegressor (or use LossCurveDisplay(loss_curve=...) directly)."
        )


class LossCurveDisplay:
    """Training loss per epoch, with the validation loss and the best epoch.

    Build it with :meth:`from_estimator`; the constructor is for curves you
    already hold. The best epoch is that of the lowest validation loss (whose
    weights ``early_stopping`` restores) when a validation curve is given,
    else that of the lowest training loss.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss of each epoch.

    validation_scores : array-like of shape (n_validation_epochs,), default=None
        Validation loss of each epoch. When shorter than ``loss_curve`` (a
        warm start that turned ``early_stopping`` on), it is drawn against
        the last ``n_validation_epochs`` epochs.

    estimator_name : str, default=None
        Name used in the legend.

    Attributes
    ----------
    best_epoch_ : int
        The best epoch, counted from 1.

    line_ : matplotlib Line2D
        The training loss curve.

    validation_line_ : matplotlib Line2D or None
        The validation loss curve, if any.

    best_marker_ : matplotlib Line2D
        The marker on the best epoch.

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    SeriesPredictionDisplay : Actual and predicted values over the series.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.plotting import LossCurveDisplay
    >>> X = np.sin(np.arange(120) / 5).reshape(-1, 1)
    >>> reg = LSTMRegressor(sequence_length=5, window_lag=1, hidden_size=8,
    ...                     max_iter=5, random_state=0).fit(X, X.ravel())
    >>> display = LossCurveDisplay.from_estimator(reg)
    >>> len(display.line_.get_ydata())
    5
    """

    def __init__(self, *, loss_curve, validation_scores=None, estimator_name=None):
        self.loss_curve = np.asarray(loss_curve, dtype=float)
        self.validation_scores = (
            None
            if validation_scores is None
            else np.asarray(validation_scores, dtype=float)
        )
        if self.loss_curve.ndim != 1 or len(self.loss_curve) == 0:
            raise ValueError(
                "loss_curve must be a non-empty 1D sequence of losses, one per "
                f"epoch; got shape {self.loss_curve.shape}."
            )
        if self.validation_scores is not None and len(self.validation_scores) > len(
            self.loss_curve
        ):
            raise ValueError(
                f"validation_scores has {len(self.validation_scores)} epochs but "
                f"loss_curve only {len(self.loss_curve)}; they must come from the "
                "same training run."
            )
        self.estimator_name = estimator_name

    @property
    def _validation_epochs(self):
        n_epochs, n_val = len(self.loss_curve), len(self.validation_scores)
        return np.arange(n_epochs - n_val + 1, n_epochs + 1)

    @property
    def best_epoch_(self):
        if self.validation_scores is not None and len(self.validation_scores):
            return int(self._validation_epochs[np.argmin(self.validation_scores)])
        return int(np.argmin(self.loss_curve)) + 1

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **plot_kw):
        """Draw the loss curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : LSTMRegressor or Pipeline
            A fitted estimator, or a pipeline ending in one (``loss_curve_``
            and, with ``early_stopping``, ``validation_scores_`` are drawn).

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        name : str, default=None
            Name used in the legend; the estimator's class name when None.

        **plot_kw : dict
            Passed to :meth:`plot` (``line_kw``, ``validation_line_kw``,
            ``best_marker_kw``).

        Returns
        -------
        display : LossCurveDisplay
            The display, with its artists.
        """
        estimator = _final_estimator(estimator)
        _check_fitted_history(estimator)
        display = cls(
            loss_curve=estimator.loss_curve_,
            validation_scores=estimator.validation_scores_,
            estimator_name=name or type(estimator).__name__,
        )
        return display.plot(ax=ax, **plot_kw)

    def plot(
        self,
        ax=None,
        *,
        name=None,
        line_kw=None,
        validation_line_kw=None,
        best_marker_kw=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        name : str, default=None
            Name used in the legend; overrides ``estimator_name``.

        line_kw, validation_line_kw, best_marker_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the training curve, the
            validation curve and the best-epoch marker.

        Returns
        -------
        display : LossCurveDisplay
            The display, with its artists.
        """
        ax = _axes(ax)
        name = name or self.estimator_name
        prefix = f"{name}: " if name else ""
        epochs = np.arange(1, len(self.loss_curve) + 1)

        (self.line_,) = ax.plot(
            epochs,
            self.loss_curve,
            **{"label": f"{prefix}training loss", **(line_kw or {})},
        )
        self.validation_line_ = None
        best = self.best_epoch_
        if self.validation_scores is not None and len(self.validation_scores):
            (self.validation_line_,) = ax.plot(
                self._validation_epochs,
                self.validation_scores,
                **{"label": f"{prefix}validation loss", **(validation_line_kw or {})},
            )
            best_value = np.min(self.validation_scores)
            best_label = f"best validation loss (epoch {best})"
        else:
            best_value = np.min(self.loss_curve)
            best_label = f"lowest training loss (epoch {best})"
        # The marker takes the colour of the curve it marks, so that curves of
        # several estimators drawn on one axes keep their markers apart.
        marked = self.validation_line_ or self.line_
        marker_kw = {
            "marker": "o",
            "linestyle": "",
            "color": marked.get_color(),
            "markeredgecolor": "black",
        }
        (self.best_marker_,) = ax.plot(
            [best],
            [best_value],
            **{**marker_kw, "label": best_label, **(best_marker_kw or {})},
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss (scaled units)")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _series_rows(estimator, X, series):
    """Positions of the rows of ``series`` in X, or None for a single series."""
    column = getattr(estimator, "series_column", None)
    if column is None:
        if series is not None:
            raise ValueError(
                f"series={series!r} needs an estimator with a series_column; this "
                "one reads X as a single series. Leave series=None."
            )
        return None
    ids, _ = split_series_column(X, column)
    if series is None:
        raise ValueError(
            "This estimator forecasts many series; pass series= the id of the one "
            f"to draw (for example {ids[0]!r})."
        )
    rows = np.flatnonzero([value == series for value in ids.tolist()])
    if not len(rows):
        raise ValueError(f"X holds no row of series {series!r}.")
    return rows


class SeriesPredictionDisplay:
    """Actual and predicted values over the rows of a series.

    The x axis is the row index, or any index given (for example a pandas
    ``DatetimeIndex``). The warm-up rows, whose windows are padded because
    they have less than ``sequence_length - 1 + window_lag`` rows of history,
    can be shaded, and a slice of rows can be drawn alone.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        Actual values.

    y_pred : array-like of shape (n_timesteps,)
        Predicted values.

    index : array-like of shape (n_timesteps,), default=None
        x value of each row (numbers or datetimes); ``0..n_timesteps-1``
        when None.

    n_warmup : int, default=0
        Number of leading warm-up rows.

    estimator_name : str, default=None
        Name used in the legend.

    Attributes
    ----------
    actual_line_ : matplotlib Line2D
        The actual values.

    predicted_line_ : matplotlib Line2D
        The predicted values.

    line_ : matplotlib Line2D
        Alias of ``predicted_line_``.

    warmup_span_ : matplotlib Rectangle or None
        The shaded warm-up area, when drawn.

    ax_ : matplotlib Axes
        Axes with the lines.

    figure_ : matplotlib Figure
        Figure containing the lines.

    See Also
    --------
    LossCurveDisplay : Loss per epoch.
    sklearn.metrics.PredictionErrorDisplay : Residuals against predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.plotting import SeriesPredictionDisplay
    >>> X = np.sin(np.arange(120) / 5).reshape(-1, 1)
    >>> reg = LSTMRegressor(sequence_length=5, window_lag=1, hidden_size=8,
    ...                     max_iter=5, random_state=0).fit(X, X.ravel())
    >>> display = SeriesPredictionDisplay.from_estimator(reg, X, X.ravel())
    >>> display.n_warmup
    5
    >>> len(display.predicted_line_.get_ydata())
    120
    """

    def __init__(self, *, y_true, y_pred, index=None, n_warmup=0, estimator_name=None):
        self.y_true = np.asarray(y_true, dtype=float)
        self.y_pred = np.asarray(y_pred, dtype=float)
        if self.y_true.ndim != 1 or self.y_true.shape != self.y_pred.shape:
            raise ValueError(
                "y_true and y_pred must be 1D and of the same length; got shapes "
                f"{self.y_true.shape} and {self.y_pred.shape}. For a multi-output "
                "model, pass one column, or use output= in from_estimator."
            )
        self.index = index
        if index is not None and len(index) != len(self.y_true):
            raise ValueError(
                f"index has {len(index)} entries but y_true has "
                f"{len(self.y_true)} rows; give one x value per row."
            )
        self.n_warmup = int(n_warmup)
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        series=None,
        index=None,
        output=0,
        ax=None,
        name=None,
        **plot_kw,
    ):
        """Predict ``X`` with a fitted estimator and draw it against ``y``.

        Parameters
        ----------
        estimator : LSTMRegressor or Pipeline
            A fitted estimator, or a pipeline ending in one.

        X : array-like of shape (n_timesteps, n_features) or \
                (n_samples, sequence_length, n_features)
            The series (or windows) to predict.

        y : array-like of shape (n_timesteps,) or (n_timesteps, n_outputs)
            Actual values.

        series : hashable, default=None
            For an estimator with a ``series_column`` (many series in X), the
            id of the series to draw: X is predicted whole and the rows of
            that series are drawn, with its own warm-up rows. Required then;
            call once per series (on axes of their own) to draw several.

        index : array-like of shape (n_timesteps,), default=None
            x values; when None, the index of ``X`` (a pandas DataFrame) or
            of ``y`` (a pandas Series), else the row numbers.

        output : int, default=0
            Column of a 2D ``y`` (and of the predictions) to draw.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        name : str, default=None
            Name used in the legend; the estimator's class name when None.

        **plot_kw : dict
            Passed to :meth:`plot` (``rows``, ``shade_warmup``,
            ``actual_kw``, ``predicted_kw``, ``warmup_kw``).

        Returns
        -------
        display : SeriesPredictionDisplay
            The display, with its artists.
        """
        y_pred = estimator.predict(X)
        final = _final_estimator(estimator)
        n_warmup = _warmup_rows(final) if _ndim(X) == 2 else 0
        if index is None:
            index = getattr(X, "index", None)
            if index is None:
                index = getattr(y, "index", None)
        rows = _series_rows(final, X, series)
        if rows is not None:
            y = np.asarray(y)[rows]
            y_pred = y_pred[rows]
            index = None if index is None else np.asarray(index)[rows]
            name = f"{name or type(final).__name__}, series {series!r}"
        return cls.from_predictions(
            y,
            y_pred,
            index=index,
            n_warmup=n_warmup,
            output=output,
            ax=ax,
            name=name or type(final).__name__,
            **plot_kw,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        index=None,
        n_warmup=0,
        output=0,
        ax=None,
        name=None,
        **plot_kw,
    ):
        """Draw predictions made beforehand against the actual values.

        Parameters
        ----------
        y_true : array-like of shape (n_timesteps,) or (n_timesteps, n_outputs)
            Actual values.

        y_pred : array-like of the same shape as ``y_true``
            Predicted values.

        index : array-like of shape (n_timesteps,), default=None
            x values; the index of ``y_true`` when it is a pandas Series,
            else the row numbers.

        n_warmup : int, default=0
            Number of leading warm-up rows, ``sequence_length - 1 +
            window_lag`` for predictions of a 2D series.

        output : int, default=0
            Column of 2D targets to draw.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        name : str, default=None
            Name used in the legend.

        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SeriesPredictionDisplay
            The display, with its artists.
        """
        if index is None:
            index = getattr(y_true, "index", None)
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_true.ndim == 2:
            y_true = y_true[:, output]
        if y_pred.ndim == 2:
            y_pred = y_pred[:, output]
        display = cls(
            y_true=y_true,
            y_pred=y_pred,
            index=index,
            n_warmup=n_warmup,
            estimator_name=name,
        )
        return display.plot(ax=ax, **plot_kw)

    def plot(
        self,
        ax=None,
        *,
        rows=None,
        shade_warmup=True,
        name=None,
        actual_kw=None,
        predicted_kw=None,
        warmup_kw=None,
    ):
        """Draw the actual and predicted values.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        rows : slice, default=None
            Rows to draw, by position (``slice(-100, None)`` for the last
            100); all rows when None.

        shade_warmup : bool, default=True
            Shade the warm-up rows that fall within ``rows``, up to the
            first row with a full window of history.

        name : str, default=None
            Name used in the legend; overrides ``estimator_name``.

        actual_kw, predicted_kw, warmup_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the two lines and of
            ``ax.axvspan`` for the shading.

        Returns
        -------
        display : SeriesPredictionDisplay
            The display, with its artists.
        """
        if rows is None:
            rows = slice(None)
        if not isinstance(rows, slice):
            raise TypeError(
                f"rows must be a slice such as slice(100, 200); got {rows!r}."
            )
        ax = _axes(ax)
        name = name or self.estimator_name
        positions = np.arange(len(self.y_true))[rows]
        index = np.arange(len(self.y_true)) if self.index is None else self.index
        index = np.asarray(index)
        x = index[positions]

        (self.actual_line_,) = ax.plot(
            x, self.y_true[positions], **{"label": "actual", **(actual_kw or {})}
        )
        label = f"predicted ({name})" if name else "predicted"
        (self.predicted_line_,) = ax.plot(
            x, self.y_pred[positions], **{"label": label, **(predicted_kw or {})}
        )
        self.line_ = self.predicted_line_

        self.warmup_span_ = None
        warm = positions[positions < self.n_warmup]
        if shade_warmup and len(warm):
            # Shade up to the first row with full history (if drawn), so that
            # one warm-up row still gets a visible band.
            end = warm[-1] + 1 if warm[-1] + 1 in positions else warm[-1]
            self.warmup_span_ = ax.axvspan(
                index[warm[0]],
                index[end],
                **{
                    "color": "grey",
                    "alpha": 0.2,
                    "label": "warm-up rows (padded windows)",
                    **(warmup_kw or {}),
                },
            )
        xlabel = "Row" if self.index is None else getattr(self.index, "name", None)
        ax.set_xlabel(xlabel or "")
        ax.set_ylabel("Target")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
