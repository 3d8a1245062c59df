"""Displays draw the fitted data; importing sklstm does not import pyplot."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from sklstm import LSTMRegressor
from sklstm.plotting import LossCurveDisplay, SeriesPredictionDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def series():
    t = np.arange(200)
    return np.column_stack([np.sin(t / 6), np.cos(t / 11)]), np.sin((t + 1) / 6)


def _fit(X, y, **params):
    params = {
        "sequence_length": 5,
        "hidden_size": 8,
        "max_iter": 5,
        "random_state": 0,
        **params,
    }
    return LSTMRegressor(**params).fit(X, y)


def test_import_sklstm_does_not_import_pyplot():
    code = (
        "import sys, sklstm, sklstm.plotting; print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_loss_curve_display_draws_the_training_curve(series):
    X, y = series
    reg = _fit(X, y, n_iter_no_change=np.inf)
    display = LossCurveDisplay.from_estimator(reg)

    assert display.validation_line_ is None
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, 6))
    np.testing.assert_allclose(display.line_.get_ydata(), reg.loss_curve_)
    best = int(np.argmin(reg.loss_curve_)) + 1
    assert display.best_epoch_ == best
    np.testing.assert_allclose(
        display.best_marker_.get_xydata(), [[best, min(reg.loss_curve_)]]
    )
    assert display.ax_.get_xlabel() == "Epoch"
    assert display.figure_ is display.ax_.figure
    assert "LSTMRegressor: training loss" in [
        t.get_text() for t in display.ax_.get_legend().get_texts()
    ]


def test_loss_curve_display_marks_the_best_validation_epoch(series):
    X, y = series
    reg = _fit(X, y, early_stopping=True, max_iter=8, n_iter_no_change=np.inf)
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(reg, ax=ax, name="lstm")

    assert display.ax_ is ax
    np.testing.assert_allclose(
        display.validation_line_.get_ydata(), reg.validation_scores_
    )
    best = int(np.argmin(reg.validation_scores_)) + 1
    assert display.best_epoch_ == best
    np.testing.assert_allclose(
        display.best_marker_.get_xydata(), [[best, reg.best_validation_score_]]
    )


def test_loss_curve_display_aligns_a_shorter_validation_curve_at_the_end():
    display = LossCurveDisplay(
        loss_curve=[4.0, 3.0, 2.0, 1.0], validation_scores=[2.5, 1.5]
    ).plot()
    np.testing.assert_array_equal(display.validation_line_.get_xdata(), [3, 4])
    assert display.best_epoch_ == 4


def test_loss_curve_display_rejects_inconsistent_curves():
    with pytest.raises(ValueError, match="same training run"):
        LossCurveDisplay(loss_curve=[1.0], validation_scores=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty 1D"):
        LossCurveDisplay(loss_curve=[])


def test_loss_curve_display_requires_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(LSTMRegressor())


@pytest.mark.parametrize("window_lag", [0, 1])
def test_series_display_draws_actual_and_predicted(series, window_lag):
    X, y = series
    reg = _fit(X, y, window_lag=window_lag)
    display = SeriesPredictionDisplay.from_estimator(reg, X, y)

    rows = np.arange(len(y))
    np.testing.assert_array_equal(display.actual_line_.get_xdata(), rows)
    np.testing.assert_allclose(display.actual_line_.get_ydata(), y)
    np.testing.assert_allclose(display.predicted_line_.get_ydata(), reg.predict(X))
    assert display.line_ is display.predicted_line_
    n_warmup = 5 - 1 + window_lag
    assert display.n_warmup == n_warmup
    # The band covers rows 0 .. n_warmup, the first row with full history.
    span = display.warmup_span_
    assert (span.get_x(), span.get_x() + span.get_width()) == (0, n_warmup)


def test_displays_accept_a_pipeline_ending_in_the_estimator(series):
    X, y = series
    pipe = make_pipeline(StandardScaler(), LSTMRegressor(5, window_lag=1, max_iter=3))
    pipe.fit(X, y)
    reg = pipe[-1]

    losses = LossCurveDisplay.from_estimator(pipe)
    np.testing.assert_allclose(losses.line_.get_ydata(), reg.loss_curve_)
    assert losses.estimator_name == "LSTMRegressor"
    series_display = SeriesPredictionDisplay.from_estimator(pipe, X, y)
    np.testing.assert_allclose(
        series_display.predicted_line_.get_ydata(), pipe.predict(X)
    )
    assert series_display.n_warmup == 5 - 1 + 1


def test_series_display_selects_rows_and_uses_a_datetime_index(series):
    pd = pytest.importorskip("pandas")
    X, y = series
    index = pd.date_range("2020-01-01", periods=len(y), freq="D", name="date")
    X_df = pd.DataFrame(X, index=index, columns=["a", "b"])
    reg = _fit(X_df, y)
    display = SeriesPredictionDisplay.from_estimator(
        reg, X_df, y, rows=slice(-50, None)
    )

    np.testing.assert_array_equal(
        display.actual_line_.get_xdata(), index[-50:].to_numpy()
    )
    np.testing.assert_allclose(display.actual_line_.get_ydata(), y[-50:])
    np.testing.assert_allclose(
        display.predicted_line_.get_ydata(), reg.predict(X_df)[-50:]
    )
    # No warm-up row is among the last 50.
    assert display.warmup_span_ is None
    assert display.ax_.get_xlabel() == "date"


def test_series_display_shades_only_drawn_warmup_rows():
    y = np.arange(10.0)
    # The drawn rows end inside the warm-up: the band stops at the last one.
    display = SeriesPredictionDisplay.from_predictions(
        y, y, n_warmup=5, rows=slice(0, 3)
    )
    span = display.warmup_span_
    assert (span.get_x(), span.get_x() + span.get_width()) == (0, 2)


def test_series_display_of_3d_windows_has_no_warmup(series):
    X, y = series
    windows = np.stack([X[i : i + 5] for i in range(len(X) - 4)])
    reg = _fit(windows, y[4:])
    display = SeriesPredictionDisplay.from_estimator(reg, windows, y[4:])
    assert display.n_warmup == 0
    assert display.warmup_span_ is None


def test_series_display_from_predictions_of_a_2d_target():
    y_true = np.arange(20.0).reshape(10, 2)
    y_pred = y_true + 0.5
    display = SeriesPredictionDisplay.from_predictions(
        y_true, y_pred, output=1, n_warmup=3, shade_warmup=False
    )
    np.testing.assert_allclose(display.actual_line_.get_ydata(), y_true[:, 1])
    np.testing.assert_allclose(display.predicted_line_.get_ydata(), y_pred[:, 1])
    assert display.warmup_span_ is None


def test_series_display_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        SeriesPredictionDisplay(y_true=[1.0, 2.0], y_pred=[1.0])
    with pytest.raises(ValueError, match="one x value per row"):
        SeriesPredictionDisplay(y_true=[1.0, 2.0], y_pred=[1.0, 2.0], index=[0])
    display = SeriesPredictionDisplay(y_true=[1.0, 2.0], y_pred=[1.0, 2.0])
    with pytest.raises(TypeError, match="slice"):
        display.plot(rows=[0, 1])
