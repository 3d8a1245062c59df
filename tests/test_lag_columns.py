"""window="columns": each row of a lag table is one window, read oldest first.

The reference is the obvious loop: step ``k`` of row ``i``'s window holds
lag ``n_lags - k`` of every variable of row ``i``, then the row's exogenous
columns, whatever order the lag blocks were written in.
"""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import torch
from _helpers import RecordingRegressor, capture_training_sets, unpadded

import sklstm
from sklstm import LSTMRegressor, _lag_windows, rolling_forecast
from sklstm._lag_windows import lag_windows
from sklstm._windowing import gather

SMALL = {"hidden_size": 6, "num_layers": 1, "max_iter": 3, "random_state": 0}


def naive_lag_windows(X, n_lags, n_exog, newest_first):
    """Every row's window as an explicit copy, oldest lag first."""
    n_variables = (X.shape[1] - n_exog) // n_lags
    windows = np.empty((len(X), n_lags, n_variables + n_exog), dtype=np.float32)
    for i, row in enumerate(X):
        for k in range(n_lags):
            lag = n_lags - k  # 1 is the most recent
            column = lag - 1 if newest_first else n_lags - lag
            for v in range(n_variables):
                windows[i, k, v] = row[v * n_lags + column]
            windows[i, k, n_variables:] = row[n_variables * n_lags :]
    return windows


def _lag_table(n_rows, n_variables, n_lags, n_exog, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_rows, n_variables * n_lags + n_exog))


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_windows_equal_the_naive_reshape(seed, newest_first, monkeypatch):
    # Random layouts, transformed in chunks smaller than the table, gathered
    # in random batches as the training loop does.
    monkeypatch.setattr(_lag_windows._windowing, "_CHUNK_ROWS", 7)
    rng = np.random.default_rng(seed)
    n_rows, n_variables, n_lags, n_exog = (int(v) for v in rng.integers(1, 6, 4))
    n_rows *= 5
    n_exog -= 1
    X = _lag_table(n_rows, n_variables, n_lags, n_exog, seed) * 3.0 + 1.0
    windows = lag_windows(X, n_lags, n_exog, newest_first, lambda rows: rows * 2.0)
    expected = naive_lag_windows(
        (X * 2.0).astype(np.float32), n_lags, n_exog, newest_first
    )
    assert windows.shape == expected.shape
    idx = torch.as_tensor(rng.permutation(n_rows))
    for start in range(0, n_rows, 4):
        batch = idx[start : start + 4]
        np.testing.assert_array_equal(
            gather(windows, batch).numpy(), expected[batch.numpy()]
        )


def test_skforecast_and_sktime_orders_give_the_same_window():
    # lag_1 (newest) ... lag_3 in skforecast's order, oldest first in sktime's:
    # both read as the series 1, 2, 3 (oldest first), exog repeated.
    newest = np.array([[3.0, 2.0, 1.0, 30.0, 20.0, 10.0, 7.0]])
    oldest = np.array([[1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 7.0]])
    expected = [[[1.0, 10.0, 7.0], [2.0, 20.0, 7.0], [3.0, 30.0, 7.0]]]
    np.testing.assert_array_equal(lag_windows(newest, 3, 1, True).numpy(), expected)
    np.testing.assert_array_equal(lag_windows(oldest, 3, 1, False).numpy(), expected)


@pytest.mark.parametrize("window", ["columns", "columns_oldest_first"])
@pytest.mark.parametrize("exog_columns", [0, 2])
def test_estimator_feeds_the_naive_windows(window, exog_columns):
    X = _lag_table(37, 2, 4, exog_columns).astype(np.float32)
    y = X[:, 0]
    est = RecordingRegressor(
        4,
        window=window,
        exog_columns=exog_columns,
        x_scaler=None,
        y_scaler=None,
        shuffle=False,
        batch_size=8,
        n_iter_no_change=np.inf,
        **dict(SMALL, max_iter=1),
    ).fit(X, y)
    expected = naive_lag_windows(X, 4, exog_columns, window == "columns")
    assert est.module_.lstm.input_size == 2 + exog_columns
    np.testing.assert_array_equal(torch.cat(est.seen_["train"]).numpy(), expected)
    est.predict(X)
    (batch,) = est.seen_["eval"]
    np.testing.assert_array_equal(unpadded(batch, len(expected)), expected)


def test_no_copy_of_the_windows_is_made(monkeypatch):
    # Training and validation sets are slices of one float32 tensor holding
    # exactly the values of X: no (n_rows, n_lags, n_variables) copy besides.
    captured = capture_training_sets(monkeypatch)
    X = _lag_table(50, 3, 5, 0)
    LSTMRegressor(5, window="columns", early_stopping=True, **SMALL).fit(X, X[:, 0])
    train, validation = captured["train"].windows, captured["validation"].windows
    storage = train.untyped_storage()
    assert storage.data_ptr() == validation.untyped_storage().data_ptr()
    assert storage.nbytes() == X.size * 4  # the float32 table itself
    # Rows are independent: no gap between the sets, no row left out.
    assert (len(train), len(validation)) == (45, 5)


def _warnings_of(func, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        func(*args)
    return [w for w in caught if issubclass(w.category, UserWarning)]


def test_short_predicts_warn_once_per_call_and_lag_rows_never():
    X = _lag_table(40, 1, 6, 0)
    rows = LSTMRegressor(6, **SMALL).fit(X, X[:, 0])
    caught = _warnings_of(rows.predict, X[:3])
    assert len(caught) == 1 and "no row has a window" in str(caught[0].message)
    columns = LSTMRegressor(6, window="columns", **SMALL).fit(X, X[:, 0])
    assert _warnings_of(columns.predict, X[:3]) == []
    assert _warnings_of(columns.predict, X[:1]) == []


def _fitted_columns():
    X = _lag_table(40, 2, 3, 1)
    est = LSTMRegressor(3, window="columns", exog_columns=1, **SMALL).fit(X, X[:, 0])
    return est, X


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({}, _lag_table(40, 1, 8, 0), r"X has 8 columns, which leaves 7 lag columns"),
        ({"exog_columns": 2}, _lag_table(40, 1, 3, 1), "not a positive multiple"),
        ({"exog_columns": 7}, _lag_table(40, 2, 3, 1), "leaves 0 lag columns"),
        ({"window_lag": 1}, _lag_table(40, 2, 3, 1), "window_lag=1 has no meaning"),
        ({"window": "rows"}, _lag_table(40, 2, 3, 1), "exog_columns=1 applies to"),
        ({}, _lag_table(40, 2, 3, 1).reshape(40, 7, 1), "but X is 3D"),
        (
            {"window_normalization": "last", "target_feature": 2},
            _lag_table(40, 2, 3, 1),
            "target_feature=2 is out of range for X with 2 lag blocks",
        ),
    ],
)
def test_bad_layouts_raise_and_keep_the_fitted_model(params, X, match):
    est, X_fit = _fitted_columns()
    before = est.predict(X_fit)
    est.set_params(**params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, X.reshape(len(X), -1)[:, 0])
    est.set_params(window="columns", window_lag=0, exog_columns=1)
    est.set_params(window_normalization=None, target_feature=0)
    np.testing.assert_array_equal(est.predict(X_fit), before)
    assert est.n_features_in_ == 7


def test_predict_refuses_3d_and_other_widths():
    est, X = _fitted_columns()
    with pytest.raises(ValueError, match="but X is 3D"):
        est.predict(X.reshape(len(X), 7, 1))
    with pytest.raises(ValueError, match="X has 6 features, but LSTMRegressor"):
        est.predict(X[:, :6])


def test_window_normalization_reads_the_target_variable_newest_lag():
    # "last" centres on the window's last step: with a zero head the
    # prediction is the newest lag of the block target_feature names, in
    # either column order, whatever the exogenous column holds.
    X = _lag_table(30, 2, 4, 1)
    for window, newest in [("columns", 0), ("columns_oldest_first", 3)]:
        est = LSTMRegressor(
            4,
            window=window,
            exog_columns=1,
            window_normalization="last",
            target_feature=1,
            x_scaler=None,
            y_scaler=None,
            **SMALL,
        ).fit(X, X[:, 0])
        with torch.no_grad():
            est.module_.head.weight.zero_()
            est.module_.head.bias.zero_()
        np.testing.assert_allclose(est.predict(X), X[:, 4 + newest], rtol=1e-6)


@pytest.mark.parametrize("normalization", ["standard", "last"])
def test_exogenous_columns_survive_window_normalization(normalization):
    # Repeated along the window, an exogenous value is constant within it:
    # normalised with the lags it would become 0 whatever its value, and the
    # predictions would not depend on it.
    X = _lag_table(30, 1, 4, 1)
    est = LSTMRegressor(
        4,
        window="columns",
        exog_columns=1,
        window_normalization=normalization,
        **SMALL,
    ).fit(X, X[:, 0])
    changed = X.copy()
    changed[:, -1] += 1.0
    assert (est.predict(changed) != est.predict(X)).all()


def test_rolling_forecast_is_plain_predict():
    est, X = _fitted_columns()
    np.testing.assert_array_equal(
        rolling_forecast(est, X, start=30), est.predict(X)[30:]
    )


def test_save_load_round_trip_is_bit_identical(tmp_path):
    X = _lag_table(40, 2, 3, 1)
    est = LSTMRegressor(
        3,
        window="columns_oldest_first",
        exog_columns=1,
        window_normalization="last",
        **SMALL,
    ).fit(X, X[:, 0])
    path = tmp_path / "model.sklstm"
    sklstm.save(est, path)
    loaded = sklstm.load(path)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    # Training continues exactly as the original would.
    np.testing.assert_array_equal(
        loaded.partial_fit(X, X[:, 0]).predict(X),
        est.partial_fit(X, X[:, 0]).predict(X),
    )


def _rewrite_manifest(data, edit):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(entries["sklstm.json"])
    edit(manifest)
    entries["sklstm.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def test_files_with_a_meaningless_window_layout_are_refused():
    est, _ = _fitted_columns()
    buffer = io.BytesIO()
    sklstm.save(est, buffer)

    def lag(manifest):
        manifest["params"]["window_lag"] = 2

    def width(manifest):
        manifest["params"]["sequence_length"] = 4

    for edit, match in [(lag, "window_lag=2"), (width, "not a positive multiple")]:
        with pytest.raises(sklstm.ModelFileError, match=match):
            sklstm.load(io.BytesIO(_rewrite_manifest(buffer.getvalue(), edit)))


# -- skforecast and sktime ----------------------------------------------------

# Small and quick: one fit per forecaster, a few seconds in all.
FAST = {
    "hidden_size": 16,
    "num_layers": 1,
    "max_iter": 60,
    "learning_rate_init": 0.01,
    "n_iter_no_change": np.inf,
    "random_state": 0,
}


def _seasonal_series():
    """Monthly seasonality on a trend that leaves the training range."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    t = np.arange(144)
    values = 10 + 2 * np.sin(2 * np.pi * t / 12) + 0.05 * t
    return pd.Series(values + 0.2 * rng.standard_normal(len(t)), name="y")


def _sklstm_warnings_raise():
    """A scope in which any UserWarning issued by sklstm is an error."""
    scope = warnings.catch_warnings()
    scope.__enter__()
    warnings.filterwarnings("error", category=UserWarning, module="sklstm")
    return scope


def _skforecast_backtest_mae(estimator):
    pytest.importorskip("skforecast")
    from skforecast.model_selection import TimeSeriesFold, backtesting_forecaster
    from skforecast.recursive import ForecasterRecursive

    y = _seasonal_series()
    forecaster = ForecasterRecursive(estimator=estimator, lags=12)
    cv = TimeSeriesFold(steps=12, initial_train_size=108, refit=False)
    metric, _ = backtesting_forecaster(
        forecaster, y=y, cv=cv, metric="mean_absolute_error", show_progress=False
    )
    return float(metric.iloc[0, 0])


def test_skforecast_backtest_reads_lags_as_a_sequence():
    # 3 folds of 12 recursive one-row predictions. Read as a sequence, the
    # lags can be normalised per window, which follows the trend; as one
    # time step of 12 features (sequence_length=1) they cannot.
    scope = _sklstm_warnings_raise()
    try:
        columns = _skforecast_backtest_mae(
            LSTMRegressor(12, window="columns", window_normalization="last", **FAST)
        )
        one_step = _skforecast_backtest_mae(LSTMRegressor(1, **FAST))
        # The filter is live: windows over rows warn on every one-row predict.
        with pytest.raises(UserWarning, match="no row has a window"):
            _skforecast_backtest_mae(LSTMRegressor(12, **dict(FAST, max_iter=1)))
    finally:
        scope.__exit__(None, None, None)
    assert columns <= one_step, (columns, one_step)  # measured 0.282 vs 0.377


def _sktime_mae(estimator):
    pytest.importorskip("sktime")
    from sktime.forecasting.compose import make_reduction

    y = _seasonal_series()
    forecaster = make_reduction(estimator, window_length=12, strategy="recursive")
    forecaster.fit(y[:120])
    y_pred = forecaster.predict(fh=np.arange(1, 25))
    return float(np.mean(np.abs(y_pred.to_numpy() - y[120:].to_numpy())))


def test_sktime_make_reduction_reads_lags_as_a_sequence():
    scope = _sklstm_warnings_raise()
    try:
        columns = _sktime_mae(
            LSTMRegressor(
                12, window="columns_oldest_first", window_normalization="last", **FAST
            )
        )
        one_step = _sktime_mae(LSTMRegressor(1, **FAST))
    finally:
        scope.__exit__(None, None, None)
    assert columns <= one_step, (columns, one_step)  # measured 0.317 vs 0.569


def test_sktime_passes_lags_oldest_first_and_skforecast_newest_first():
    # The layouts the two window values are named after, as the libraries
    # really pass them: the columns of the row whose target is y[3].
    pytest.importorskip("skforecast")
    pytest.importorskip("sktime")
    from skforecast.recursive import ForecasterRecursive
    from sktime.forecasting.compose import make_reduction

    pd = pytest.importorskip("pandas")
    y = pd.Series(np.arange(20.0), name="y")
    rows = {}

    class Recorder(LSTMRegressor):
        def fit(self, X, y, sample_weight=None):
            rows.setdefault(self.window, np.asarray(X)[0])
            return super().fit(X, y, sample_weight)

    params = dict(FAST, max_iter=1)
    ForecasterRecursive(estimator=Recorder(3, window="columns", **params), lags=3).fit(
        y=y
    )
    make_reduction(
        Recorder(3, window="columns_oldest_first", **params), window_length=3
    ).fit(y)
    np.testing.assert_array_equal(rows["columns"], [2.0, 1.0, 0.0])
    np.testing.assert_array_equal(rows["columns_oldest_first"], [0.0, 1.0, 2.0])


def test_rows_of_weight_zero_have_no_influence():
    # Independent rows: a row of weight 0 is as good as absent, also from
    # the scales (with window="rows" it would still be history).
    X = _lag_table(40, 2, 3, 0)
    y = X[:, 0]
    weight = np.ones(len(X))
    weight[::4] = 0
    changed = X.copy()
    changed[::4] = 1e3
    a = LSTMRegressor(3, window="columns", **SMALL).fit(X, y, sample_weight=weight)
    b = LSTMRegressor(3, window="columns", **SMALL)
    b.fit(changed, y, sample_weight=weight)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
