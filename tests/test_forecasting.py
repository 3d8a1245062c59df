"""Alignment of forecasting targets and rolling forecasts, asserted exactly."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklstm import LSTMRegressor, make_direct_targets, rolling_forecast
from sklstm._model import LSTMNet
from sklstm._windowing import gather, padded_series, series_windows


def _windows(X, sequence_length, window_lag):
    """The windows the estimator builds for the rows ``window_lag:`` of a series."""
    series = padded_series(np.asarray(X, dtype=float), sequence_length)
    windows = series_windows(series, sequence_length, window_lag)
    return gather(windows, torch.arange(len(windows))).numpy()


@pytest.mark.parametrize("window_lag", [0, 1, 2, 3])
@pytest.mark.parametrize("horizon", [1, 2, 5])
def test_direct_targets_follow_the_window_end(window_lag, horizon):
    n = 30
    y = np.arange(n, dtype=float)  # the value is its own row number
    Y = make_direct_targets(y, horizon, window_lag=window_lag)
    assert Y.shape == (n, horizon)
    for t in range(n):
        for h in range(1, horizon + 1):
            source = t - window_lag + h
            expected = y[source] if 0 <= source < n else np.nan
            np.testing.assert_equal(Y[t, h - 1], expected)


@pytest.mark.parametrize("window_lag", [0, 1, 2])
@pytest.mark.parametrize("sequence_length", [1, 4])
def test_no_target_lies_in_its_own_window(window_lag, sequence_length):
    # The windows come from the estimator's own windowing code; on a series
    # whose values are row numbers, column h - 1 must be exactly h rows after
    # the last row of the window, which only contains earlier rows.
    n, horizon = 25, 3
    y = np.arange(n, dtype=float)
    Y = make_direct_targets(y, horizon, window_lag=window_lag)
    windows = _windows(y.reshape(-1, 1), sequence_length, window_lag)[:, :, 0]
    for t in range(window_lag + sequence_length, n):  # rows with unpadded windows
        assert windows[t - window_lag, -1] == t - window_lag
        known = Y[t][~np.isnan(Y[t])]
        if not len(known):  # all targets lie beyond the end of the series
            continue
        window = windows[t - window_lag]
        np.testing.assert_array_equal(known, window[-1] + 1 + np.arange(len(known)))
        assert known.min() > window.max()


def test_known_rows_are_contiguous_and_counted():
    n, horizon = 20, 4
    for window_lag in range(4):
        Y = make_direct_targets(np.ones(n), horizon, window_lag=window_lag)
        known = np.flatnonzero(~np.isnan(Y).any(axis=1))
        first = max(0, window_lag - 1)
        last = n - 1 - horizon + window_lag
        np.testing.assert_array_equal(known, np.arange(first, last + 1))


def test_one_step_targets_with_lag_one_are_the_series():
    y = np.random.RandomState(0).normal(size=15)
    np.testing.assert_array_equal(make_direct_targets(y, 1, window_lag=1)[:, 0], y)


def test_series_gives_frame_with_index_and_named_columns():
    index = pd.date_range("2000-01-01", periods=6, freq="MS")
    y = pd.Series(np.arange(6.0), index=index, name="co2")
    Y = make_direct_targets(y, horizon=3)
    assert isinstance(Y, pd.DataFrame)
    assert list(Y.columns) == ["co2_h1", "co2_h2", "co2_h3"]
    pd.testing.assert_index_equal(Y.index, index)
    np.testing.assert_array_equal(Y.iloc[0], [0.0, 1.0, 2.0])
    unnamed = make_direct_targets(pd.Series(np.arange(3.0)), horizon=1)
    assert list(unnamed.columns) == ["y_h1"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"horizon": 0}, "horizon must be an int >= 1"),
        ({"horizon": 2.0}, "horizon must be an int >= 1"),
        ({"horizon": 2, "window_lag": -1}, "window_lag must be an int >= 0"),
    ],
)
def test_direct_targets_reject_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_direct_targets(np.arange(5.0), **kwargs)


def test_direct_targets_reject_2d_y():
    with pytest.raises(ValueError, match="one series of shape"):
        make_direct_targets(np.ones((5, 2)), horizon=2)


def test_multi_step_fit_and_forecast_beyond_the_end():
    # window_lag=0: the last row's window ends at the last observation, so
    # its prediction is the forecast of the next `horizon` values.
    y = np.sin(np.arange(120) / 4)
    X = y.reshape(-1, 1)
    Y = make_direct_targets(y, 3, window_lag=0)
    known = ~np.isnan(Y).any(axis=1)
    reg = LSTMRegressor(
        sequence_length=8, window_lag=0, hidden_size=8, max_iter=5, random_state=0
    ).fit(X[known], Y[known])
    assert reg.predict(X)[-1].shape == (3,)


def _fitted(window_lag=1, sequence_length=5):
    y = np.sin(np.arange(80) / 3) + np.arange(80) / 40
    X = y.reshape(-1, 1)
    reg = LSTMRegressor(
        sequence_length=sequence_length,
        window_lag=window_lag,
        hidden_size=8,
        max_iter=5,
        random_state=0,
    ).fit(X[:60], y[:60])
    return reg, X


@pytest.mark.parametrize("window_lag", [0, 1, 2])
def test_rolling_forecast_equals_prediction_on_whole_series(window_lag):
    reg, X = _fitted(window_lag)
    got = rolling_forecast(reg, X, start=60)
    assert got.shape == (20,)
    np.testing.assert_allclose(got, reg.predict(X)[60:], rtol=0, atol=1e-6)


def test_rolling_forecast_uses_history_not_padding():
    reg, X = _fitted(window_lag=1, sequence_length=5)
    got = rolling_forecast(reg, X, start=60)
    alone = reg.predict(X[60:])
    # The first 5 windows of X[60:] alone are padded (sequence_length - 1 +
    # window_lag rows); from there on both see the same real rows.
    assert not np.allclose(got[:5], alone[:5])
    np.testing.assert_allclose(got[5:], alone[5:], rtol=0, atol=1e-6)


def test_rolling_forecast_does_not_use_the_predicted_rows():
    # One-step-ahead: changing row t must not change the prediction of row t.
    reg, X = _fitted(window_lag=1)
    changed = X.copy()
    changed[70] += 100.0
    before = rolling_forecast(reg, X, start=60)
    after = rolling_forecast(reg, changed, start=60)
    np.testing.assert_array_equal(before[: 70 - 60 + 1], after[: 70 - 60 + 1])
    assert not np.allclose(before[11], after[11])


def test_rolling_forecast_near_the_start_and_with_frames_and_pipelines():
    reg, X = _fitted()
    np.testing.assert_allclose(
        rolling_forecast(reg, X, start=2), reg.predict(X)[2:], rtol=0, atol=1e-6
    )
    frame = pd.DataFrame(X, columns=["v"])
    pipe = make_pipeline(StandardScaler(), reg).fit(frame.iloc[:60], X[:60, 0])
    np.testing.assert_allclose(
        rolling_forecast(pipe, frame, start=60),
        pipe.predict(frame)[60:],
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "start, message", [(80, "leaves no row to predict"), (-1, "start must be")]
)
def test_rolling_forecast_rejects_bad_start(start, message):
    reg, X = _fitted()
    with pytest.raises(ValueError, match=message):
        rolling_forecast(reg, X, start=start)


def test_rolling_forecast_rejects_3d_windows():
    reg, _ = _fitted()
    with pytest.raises(ValueError, match="2D series"):
        rolling_forecast(reg, np.zeros((4, 5, 1)), start=0)


@pytest.mark.parametrize("normalization", ["standard", "last"])
def test_window_normalization_with_a_zero_head(normalization):
    # With the head's output at zero, the network returns the window's
    # centre for the target column: its mean, or its last value.
    net = LSTMNet(
        2,
        1,
        hidden_size=4,
        num_layers=1,
        dropout=0.0,
        bidirectional=False,
        window_normalization=normalization,
        target_feature=1,
    )
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.randn(6, 5, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = net(x)[:, 0]
    expected = x[:, -1, 1] if normalization == "last" else x[:, :, 1].mean(dim=1)
    torch.testing.assert_close(out, expected)


def test_last_value_normalization_follows_a_trend_beyond_the_training_range():
    y = np.arange(120.0) + np.sin(np.arange(120) / 2)
    X = y.reshape(-1, 1)
    params = {
        "sequence_length": 6,
        "window_lag": 1,
        "hidden_size": 8,
        "num_layers": 1,
        "max_iter": 30,
        "random_state": 0,
    }
    last = LSTMRegressor(window_normalization="last", **params).fit(X[:90], y[:90])
    plain = LSTMRegressor(**params).fit(X[:90], y[:90])
    error_last = np.abs(rolling_forecast(last, X, start=90) - y[90:]).max()
    error_plain = np.abs(rolling_forecast(plain, X, start=90) - y[90:]).max()
    # The MinMax-scaled plain model cannot go far beyond its training range.
    assert error_last < 2.0
    assert error_plain > 10.0
