"""Seasonal periods: the seasonal centring, its checks, and make_forecaster."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import future_changed
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from sklstm import LSTMRegressor, make_forecaster, rolling_forecast, seasonal_period_of
from sklstm._autoregression import (
    combined_lengths,
    flat_with_one,
    kpss_statistic,
    n_differences,
    window_sums,
)
from sklstm._model import LSTMNet


def _seasonal_series(n=240, m=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + 0.05 * t + 2 * np.sin(2 * np.pi * t / m) + 0.2 * rng.standard_normal(n)
    return y.reshape(-1, 1), y


def test_seasonal_centring_with_a_zero_head_is_the_seasonal_naive_forecast():
    net = LSTMNet(1, 1, 4, 1, 0.0, False, "seasonal", centre_step=-12)
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.randn(5, 15, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(net(x)[:, 0], x[:, -12, 0])


@pytest.mark.parametrize("window_lag", [1, 2])
def test_seasonal_centring_never_reads_the_target_row_or_later(window_lag):
    # The window ends window_lag rows before the target, and the centre lies
    # inside it: changing X from row t on never moves row t's prediction.
    X, y = _seasonal_series(96)
    reg = LSTMRegressor(
        14,
        window_lag=window_lag,
        window_normalization="seasonal",
        seasonal_period=12,
        hidden_size=8,
        num_layers=1,
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    assert reg.module_.centre_step == -(12 - window_lag + 1)
    reference = reg.predict(X)
    for t, changed in future_changed(X, 0.0, 50.0):
        assert reg.predict(changed)[t] == reference[t], t


def test_a_seasonal_model_beats_the_seasonal_naive_forecast_on_a_trend():
    X, y = _seasonal_series(240)
    reg = make_forecaster(12, random_state=0, hidden_size=16, max_iter=60)
    reg.fit(X[:192], y[:192])
    pred = rolling_forecast(reg, X, start=192)
    rmse = np.sqrt(np.mean((pred - y[192:]) ** 2))
    seasonal_naive = np.sqrt(np.mean((y[180:228] - y[192:]) ** 2))
    assert rmse < 0.8 * seasonal_naive


@pytest.mark.parametrize(
    "params, n_rows, match",
    [
        ({"seasonal_period": None}, 60, "needs seasonal_period"),
        ({"seasonal_period": 12, "sequence_length": 10}, 60, "sequence_length >= 12"),
        ({"seasonal_period": 1, "window_lag": 2}, 60, "shorter than window_lag"),
        ({"seasonal_period": 50, "sequence_length": 60}, 50, "not shorter than"),
    ],
)
def test_bad_seasonal_settings_are_errors_that_keep_the_model(params, n_rows, match):
    X, y = _seasonal_series(60)
    base = dict(window_lag=1, hidden_size=4, num_layers=1, max_iter=1, random_state=0)
    reg = LSTMRegressor(**base).fit(X, y)
    before, original = reg.predict(X), reg.get_params()
    settings = {"window_normalization": "seasonal", "sequence_length": 13, **params}
    with pytest.raises(ValueError, match=match):
        reg.set_params(**settings).fit(X[:n_rows], y[:n_rows])
    np.testing.assert_array_equal(reg.set_params(**original).predict(X), before)


@pytest.mark.parametrize("value", [0, -12, 2.5, "12"])
def test_invalid_seasonal_period_values(value):
    X, y = _seasonal_series(60)
    with pytest.raises(ValueError, match="seasonal_period"):
        LSTMRegressor(seasonal_period=value, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="seasonal_period"):
        make_forecaster(value)


def test_make_forecaster_is_a_clonable_recipe_that_params_override():
    reg = make_forecaster(12, random_state=3, hidden_size=7)
    assert isinstance(reg, LSTMRegressor)
    params = reg.get_params()
    assert params["seasonal_period"] == 12 and params["window_lag"] == 1
    assert params["sequence_length"] >= 12
    assert params["hidden_size"] == 7 and params["random_state"] == 3
    assert clone(reg).get_params() == params
    plain = make_forecaster()
    assert plain.get_params()["window_normalization"] == "last"
    with pytest.raises(TypeError, match="n_layers"):
        make_forecaster(4, n_layers=3)


@pytest.mark.parametrize(
    "freq, expected",
    [
        ("MS", 12),
        ("ME", 12),
        ("QS", 4),
        ("W", 52),
        ("D", 7),
        ("B", 5),
        ("h", 24),
        ("30min", 48),
        ("YS", 1),
        ("BME", 12),
    ],
)
def test_seasonal_period_of_a_date_index(freq, expected):
    index = pd.date_range("2021-01-01", periods=40, freq=freq)
    assert seasonal_period_of(index) == expected
    assert seasonal_period_of(pd.DatetimeIndex(list(index))) == expected  # inferred


def test_seasonal_period_of_without_a_frequency_says_what_to_do():
    with pytest.raises(ValueError, match="as an int"):
        seasonal_period_of(pd.RangeIndex(10))
    irregular = pd.DatetimeIndex(["2021-01-01", "2021-01-03", "2021-02-11"])
    with pytest.raises(ValueError, match="no regular frequency"):
        seasonal_period_of(irregular)
    with pytest.raises(ValueError, match="no usual seasonal period"):
        seasonal_period_of(pd.date_range("2021", periods=10, freq="7min"))


@pytest.mark.parametrize("normalization", [None, "last"])
def test_linear_skip_starts_at_the_least_squares_autoregression(normalization):
    # With the head at zero and no training to speak of, the model is the
    # least-squares linear regression of the targets on the raw windows.
    X, y = _seasonal_series(120)
    reg = LSTMRegressor(
        6,
        window_lag=1,
        linear_skip=True,
        window_normalization=normalization,
        x_scaler=None,
        y_scaler=None,
        hidden_size=4,
        num_layers=1,
        max_iter=1,
        learning_rate_init=1e-12,
        random_state=0,
    ).fit(X, y)
    # The windows of rows 1..119 (row 0 has no history), padded with row 0;
    # the regression is fitted on those without padding (rows 6 on).
    lags = np.array([[y[max(r, 0)] for r in range(t - 6, t)] for t in range(1, 120)])
    expected = LinearRegression().fit(lags[5:], y[6:]).predict(lags)
    np.testing.assert_allclose(reg.predict(X)[1:], expected, rtol=1e-4)
    assert reg.module_.head.weight.abs().max() < 1e-9  # started at zero


def _combined_by_hand(y, length, lengths, min_windows=6, second_only=False):
    """The combined skip's forecasts of rows 1 on, fitted by hand.

    For each length n: ordinary least squares on the last n rows of the
    windows; on their changes, with a constant, for the change from the last
    value; and on their second differences, without one, for the departure
    from the line through the last two values; each on the windows whose
    last n rows are not padding, and only where those number at least
    ``min_windows`` per coefficient. With ``second_only``, the models on
    second differences alone. The models' forecasts are averaged with
    weights the inverse square of their mean squared errors on the last 20%
    of the windows when fitted on the others.
    """
    rows = range(1, len(y))  # row 0 has no history
    windows = np.array([[y[max(r, 0)] for r in range(t - length, t)] for t in rows])
    target = y[1:]
    position = np.arange(len(windows))
    later = position >= len(windows) - int(np.ceil(0.2 * len(windows)))
    forecasts, errors = [], []
    for n in lengths:
        real = position >= n - 1  # window j holds j + 1 real rows
        last = windows[:, -n:]
        line = 2 * last[:, -1] - last[:, -2]
        models = [
            (last, 0.0, True),
            (np.diff(last, axis=1), last[:, -1], True),
            (np.diff(last, n=2, axis=1), line, False),
        ][2 if second_only else 0 :]
        for design, base, intercept in models:
            if real.sum() < min_windows * (design.shape[1] + intercept):
                continue
            base = np.broadcast_to(base, len(design))
            rest = target - base
            model = LinearRegression(fit_intercept=intercept)
            forecasts.append(base + model.fit(design[real], rest[real]).predict(design))
            early = real & ~later
            model.fit(design[early], rest[early])
            error = model.predict(design[later]) - rest[later]
            errors.append(np.mean(error**2))
    return np.average(forecasts, axis=0, weights=np.array(errors) ** -2.0)


def _fit_combined(X, y, length, normalization=None):
    return LSTMRegressor(
        length,
        window_lag=1,
        linear_skip="combined",
        window_normalization=normalization,
        seasonal_period=4,
        x_scaler=None,
        y_scaler=None,
        hidden_size=4,
        num_layers=1,
        max_iter=1,
        learning_rate_init=1e-12,
        random_state=0,
    ).fit(X, y)


@pytest.mark.parametrize("normalization", [None, "last", "seasonal", "standard"])
def test_combined_skip_weighs_autoregressions_on_levels_and_changes(
    normalization,
):
    # The skip must forecast the weighted mean of the hand-fitted models,
    # whatever the centre the network adds.
    X, y = _seasonal_series(150, m=4)
    reg = _fit_combined(X, y, 9, normalization)
    # 5, 10, 20 and 2 * 4 + 1 rows, at most the window of 9.
    expected = _combined_by_hand(y, 9, (5, 9))
    np.testing.assert_allclose(reg.predict(X)[1:], expected, rtol=1e-4)


def test_combined_skip_leaves_out_models_with_too_few_windows():
    # 40 rows: only the models on changes and second differences of the
    # last 5 rows have 6 windows per coefficient (35 windows for 5 and 3).
    X, y = _seasonal_series(40, m=4)
    reg = _fit_combined(X, y, 9, "last")
    expected = _combined_by_hand(y, 9, (5, 9))
    np.testing.assert_allclose(reg.predict(X)[1:], expected, rtol=1e-4)
    every_model = _combined_by_hand(y, 9, (5, 9), min_windows=0)
    assert not np.allclose(reg.predict(X)[1:], every_model, rtol=1e-3)


def test_combined_skip_of_a_series_that_needs_two_differences():
    # An integrated random walk: the KPSS test rejects the levels and the
    # changes, so only the models on second differences are averaged.
    rng = np.random.default_rng(1)
    y = 50 + rng.standard_normal(150).cumsum().cumsum() / 10
    assert n_differences(y) == 2
    reg = _fit_combined(y.reshape(-1, 1), y, 9, "last")
    expected = _combined_by_hand(y, 9, (5, 9), second_only=True)
    np.testing.assert_allclose(reg.predict(y.reshape(-1, 1))[1:], expected, rtol=1e-4)
    every_form = _combined_by_hand(y, 9, (5, 9))
    assert not np.allclose(reg.predict(y.reshape(-1, 1))[1:], every_form, rtol=1e-3)


def test_window_sums_give_the_error_of_a_linear_forecast():
    # The hold-out errors that weigh the combination come from the sums
    # alone: they must be the errors of the forecasts on the windows.
    generator = torch.Generator().manual_seed(0)
    windows = torch.randn(50, 6, 2, generator=generator)
    y = torch.randn(50, 1, generator=generator)
    history = torch.randint(1, 7, (50,), generator=generator)
    weights = torch.randn(13, 1, generator=generator, dtype=torch.float64)
    sums = window_sums(windows, y, history=history, chunk=16)
    for n in (1, 4, 6):
        real = history >= n
        error = flat_with_one(windows[real]).double() @ weights - y[real].double()
        expected = float(error.square().mean())
        assert sums.mean_squared_error(weights, n) == pytest.approx(expected)


def test_differences_the_kpss_test_asks_for():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(100)
    assert n_differences(noise) == 0
    assert n_differences(noise.cumsum()) == 1
    assert n_differences(noise.cumsum().cumsum()) == 2
    assert n_differences(noise.cumsum().cumsum().cumsum()) == 2  # at most 2
    assert n_differences(np.full(30, 3.0)) == 0
    assert kpss_statistic(torch.zeros(10, dtype=torch.float64)) == 0.0


def test_kpss_statistic_is_statsmodels():
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal(60), rng.standard_normal(200).cumsum()):
        lags = int(3 * np.sqrt(len(x)) / 13)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # p-values outside statsmodels' table
            expected = stattools.kpss(x, "c", nlags=lags)[0]
        assert kpss_statistic(torch.as_tensor(x)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("normalization", [None, "last", "seasonal", "standard"])
def test_linear_forecast_is_the_network_with_its_head_at_zero(normalization):
    generator = torch.Generator().manual_seed(0)
    net = LSTMNet(
        2,
        1,
        4,
        1,
        0.0,
        False,
        normalization,
        target_feature=1,
        centre_step=-4,
        linear_skip=True,
        sequence_length=6,
        generator=generator,
    )
    with torch.no_grad():
        net.skip_weight.normal_(generator=generator)
        net.skip_bias.normal_(generator=generator)
        net.head.weight.zero_()
        net.head.bias.zero_()
        x = torch.randn(7, 6, 2, generator=generator)
        torch.testing.assert_close(net.linear_forecast(x), net(x))


def test_combined_lengths_hold_a_season_and_fit_the_window():
    assert combined_lengths(20) == [5, 10, 20]
    assert combined_lengths(25, 12) == [13, 20, 25]
    assert combined_lengths(49, 48) == [49]
    assert combined_lengths(6, 2) == [5, 6]
    # Every whole number of seasons and a row from two on.
    assert combined_lengths(49, 12) == [13, 20, 25, 37, 49]
    assert combined_lengths(20, 4) == [5, 9, 10, 13, 17, 20]


def test_seasonal_centre_of_a_lag_table_is_the_lag_one_season_back():
    # lag_1 is the row before the target, so the value one season back is
    # lag_m: with window="columns" and m lags it is the oldest step.
    reg = LSTMRegressor(
        12, window="columns", window_normalization="seasonal", seasonal_period=12
    )
    assert reg._centre_step() == -12
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 12))
    reg.set_params(hidden_size=4, max_iter=1).fit(X, X[:, 0])
    assert reg.module_.centre_step == -12
