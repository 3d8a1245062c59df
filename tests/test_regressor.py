"""LSTMRegressor in everyday scikit-learn use: input contract, ecosystem, errors."""

import pickle
import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklstm import LSTMRegressor

SMALL = dict(sequence_length=4, hidden_size=8, num_layers=1, max_iter=5, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=120, n_features=3, noise=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    return LSTMRegressor(**SMALL).fit(*data)


def test_window_alignment_decides_fit_on_independent_rows():
    # Rows are independent: only the window that holds the target's own row
    # can explain it (the tutorial's one-row-early window cannot).
    X, y = make_regression(n_samples=300, n_features=2, noise=1.0, random_state=1)
    params = dict(SMALL, max_iter=40, learning_rate_init=0.01)
    own_row = LSTMRegressor(window_lag=0, **params).fit(X[:240], y[:240])
    one_early = LSTMRegressor(window_lag=1, **params).fit(X[:240], y[:240])
    assert own_row.score(X[240:], y[240:]) > 0.9
    assert one_early.score(X[240:], y[240:]) < 0.2


def test_one_prediction_per_row_shaped_like_y(data):
    X, y = data
    reg = LSTMRegressor(**SMALL).fit(X, y)
    assert reg.predict(X).shape == (len(X),)
    Y = np.column_stack([y, -y])
    reg = LSTMRegressor(**SMALL).fit(X, Y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == (len(X), 2)
    reg = LSTMRegressor(**SMALL).fit(X, y[:, None])
    assert reg.predict(X).shape == (len(X), 1)


def test_3d_windows_equal_2d_series_windows(data):
    # The windows the estimator builds from a series, passed ready-made,
    # give the same predictions.
    X, y = data
    reg = LSTMRegressor(window_lag=1, **SMALL).fit(X, y)
    L = reg.sequence_length
    windows = np.stack([X[t - 1 - L + 1 : t] for t in range(L, len(X))])
    np.testing.assert_allclose(reg.predict(windows), reg.predict(X)[L:], rtol=1e-5)


def test_3d_fit_and_predict(data):
    X, y = data
    windows = np.stack([X[t - 3 : t + 1] for t in range(3, len(X))])
    reg = LSTMRegressor(**SMALL).fit(windows, y[3:])
    assert reg.n_features_in_ == 3
    assert reg.predict(windows).shape == (len(windows),)


def test_reproducible_without_touching_global_rng(data):
    X, y = data
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    params = dict(SMALL, dropout=0.3, num_layers=2)
    a = LSTMRegressor(**params).fit(X, y).predict(X)
    b = LSTMRegressor(**params).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    c = LSTMRegressor(**dict(params, random_state=1)).fit(X, y).predict(X)
    assert not np.array_equal(a, c)


def test_threads_scoped_and_restored(data):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []

        class Spy(StandardScaler):
            def transform(self, X, copy=None):
                seen.append(torch.get_num_threads())
                return super().transform(X, copy=copy)

        reg = LSTMRegressor(x_scaler=Spy(), **SMALL).fit(*data)
        reg.predict(data[0])
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_pandas_input_records_feature_names(data):
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = LSTMRegressor(**SMALL).fit(df, pd.Series(y))
    assert list(reg.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(reg.predict(df), reg.predict(X))
    with pytest.raises(ValueError, match="Feature names"):
        reg.predict(df[["c", "b", "a"]])


def test_scalers_are_replaceable_and_fitted_on_fit_data_only(data):
    X, y = data
    reg = LSTMRegressor(x_scaler=StandardScaler(), y_scaler=None, **SMALL).fit(X, y)
    np.testing.assert_allclose(reg.x_scaler_.mean_, X.mean(axis=0))
    assert reg.y_scaler_ is None
    reg.predict(X * 100)  # predict data never refits the scaler
    np.testing.assert_allclose(reg.x_scaler_.mean_, X.mean(axis=0))
    default = LSTMRegressor(**SMALL).fit(X, y)
    np.testing.assert_allclose(default.y_scaler_.data_max_, [y.max()])


def test_pipeline_and_transformed_target(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), LSTMRegressor(**SMALL)).fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    ttr = TransformedTargetRegressor(
        regressor=LSTMRegressor(y_scaler=None, **SMALL), transformer=StandardScaler()
    ).fit(X, y)
    assert np.isfinite(ttr.predict(X)).all()


def test_grid_search_with_time_series_split_in_parallel(data):
    X, y = data

    def fit_search(n_jobs):
        return GridSearchCV(
            LSTMRegressor(**dict(SMALL, max_iter=3)),
            {"hidden_size": [4, 8], "sequence_length": [3, 6]},
            cv=TimeSeriesSplit(n_splits=2),
            n_jobs=n_jobs,
        ).fit(X, y)

    search = fit_search(n_jobs=2)
    assert search.best_params_["hidden_size"] in (4, 8)
    serial = fit_search(n_jobs=1)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_cross_val_score_clone_and_params(data):
    X, y = data
    reg = LSTMRegressor(**SMALL)
    scores = cross_val_score(reg, X, y, cv=TimeSeriesSplit(n_splits=2))
    assert scores.shape == (2,)
    twin = clone(reg).set_params(hidden_size=4)
    assert twin.get_params()["hidden_size"] == 4
    assert reg.get_params()["hidden_size"] == 8


def test_pickle_round_trip_identical(fitted, data):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(data[0]), fitted.predict(data[0]))
    assert restored.device_ == torch.device("cpu")


def test_too_short_series_warns_and_pads(data):
    X, y = data
    with pytest.warns(UserWarning, match="fewer than sequence_length"):
        reg = LSTMRegressor(**SMALL).fit(X[:3], y[:3])
    assert np.isfinite(reg.predict(X[:3])).all()


@pytest.mark.parametrize(
    "X_bad, y_bad, match",
    [
        ("nan_X", None, "Input X contains NaN"),
        ("inf_X", None, "Input X contains infinity"),
        (None, "nan_y", "Input y contains NaN"),
        ("1d", None, "Expected 2D array, got 1D array"),
        ("4d", None, "X has 4 dimensions"),
        (None, "short", "inconsistent numbers of samples"),
        ("empty", "empty", "0 sample"),
        ("text", None, "could not convert string to float"),
    ],
)
def test_bad_fit_input_is_a_clear_value_error(data, X_bad, y_bad, match):
    X, y = data[0].copy(), data[1].copy()
    X = {
        None: X,
        "nan_X": np.where(np.eye(*X.shape, dtype=bool), np.nan, X),
        "inf_X": np.where(np.eye(*X.shape, dtype=bool), np.inf, X),
        "1d": X[:, 0],
        "4d": X.reshape(len(X), 3, 1, 1),
        "empty": X[:0],
        "text": np.array([["a", "b", "c"]] * len(X)),
    }[X_bad]
    y = {None: y, "nan_y": np.full_like(y, np.nan), "short": y[:-1], "empty": y[:0]}[
        y_bad
    ]
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**SMALL).fit(X, y)


def test_bad_predict_input(fitted, data):
    X = data[0]
    with pytest.raises(
        ValueError, match="X has 2 features, but LSTMRegressor is expecting 3"
    ):
        fitted.predict(X[:, :2])
    with pytest.raises(
        ValueError, match=re.escape("windows of 7 rows, but sequence_length=4")
    ):
        fitted.predict(np.zeros((5, 7, 3)))
    with pytest.raises(ValueError, match="X has 2 features"):
        fitted.predict(np.zeros((5, 4, 2)))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(np.full_like(X, np.nan))


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        LSTMRegressor().predict(np.zeros((5, 2)))


@pytest.mark.parametrize(
    "param, value",
    [("hidden_size", 0), ("window_lag", -1), ("loss", "hinge"), ("device", "tpu")],
)
def test_invalid_parameters(data, param, value):
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        LSTMRegressor(**{param: value}).fit(*data)


def test_failed_fit_keeps_previous_model(fitted, data):
    X, y = data
    reg = clone(fitted).fit(X, y)
    before = reg.predict(X)
    with pytest.raises(ValueError):
        reg.fit(np.c_[X, X], np.full(len(X), np.nan))
    assert reg.n_features_in_ == 3
    np.testing.assert_array_equal(reg.predict(X), before)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    reg.fit(df, y)
    with pytest.raises(ValueError):
        reg.fit(X[:, :2], y, sample_weight=np.zeros(len(X)))
    assert list(reg.feature_names_in_) == ["a", "b", "c"]


def test_window_normalization_needs_a_valid_target_feature(data):
    with pytest.raises(ValueError, match="target_feature=5 is out of range"):
        LSTMRegressor(window_normalization="standard", target_feature=5, **SMALL).fit(
            *data
        )


def test_window_normalization_follows_a_level_shift():
    # A series trained around 0..1 and predicted around 100: with per-window
    # normalisation the forecast follows the level, without it it cannot.
    t = np.arange(400, dtype=float)
    series = np.sin(t / 5)
    X, y = series[:, None], series
    params = dict(SMALL, window_lag=1, sequence_length=8, max_iter=20)
    shifted = X + 100
    plain = LSTMRegressor(**params).fit(X, y)
    normed = LSTMRegressor(window_normalization="standard", **params).fit(X, y)
    err_plain = np.abs(plain.predict(shifted)[10:] - (y + 100)[10:]).mean()
    err_normed = np.abs(normed.predict(shifted)[10:] - (y + 100)[10:]).mean()
    assert err_normed < 0.5
    assert err_plain > 50


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(data):
    with pytest.raises(
        ValueError, match="device='cuda' but torch finds no CUDA device"
    ):
        LSTMRegressor(device="cuda", **SMALL).fit(*data)
    reg = LSTMRegressor(device="auto", **SMALL).fit(*data)
    assert reg.device_ == torch.device("cpu")
