"""Many series in one X (series_column): windows, scaling, validation, errors."""

import io
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import RecordingRegressor, capture_training_sets, unpadded
from sklearn.model_selection import GridSearchCV, cross_validate

import sklstm
from sklstm import (
    LSTMRegressor,
    SeriesPredictionDisplay,
    SeriesTimeSplit,
    make_direct_targets,
    make_forecaster,
    rolling_forecast,
)
from sklstm._autoregression import n_differences
from sklstm._panel import layout_of, panel_windows

TINY = dict(
    sequence_length=4,
    window_lag=1,
    hidden_size=4,
    num_layers=1,
    max_iter=3,
    n_iter_no_change=np.inf,
    random_state=0,
)
LEVELS = {"a": 10.0, "b": 200.0, "c": -50.0}
N_ROWS = {"a": 30, "b": 24, "c": 36}


def make_panel(seed=0):
    """Three series of different levels and lengths, stacked block by block."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, level in LEVELS.items():
        n = N_ROWS[name]
        values = level + abs(level) * 0.1 * np.sin(np.arange(n) / 3)
        values += rng.normal(0, abs(level) * 0.01, n)
        frames.append(pd.DataFrame({"store": name, "sales": values, "t": np.arange(n)}))
    return pd.concat(frames, ignore_index=True)


def interleaved(frame):
    """The same rows interleaved by time step (a stable sort by date)."""
    return frame.sort_values("t", kind="stable")


def fitted(frame=None, **params):
    frame = make_panel() if frame is None else frame
    reg = LSTMRegressor(series_column="store", **{**TINY, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reg.fit(frame, frame["sales"])


def hand_windows(values, sequence_length, window_lag):
    """The window of each row with history, built one series at a time."""
    padded = np.concatenate([np.repeat(values[:1], sequence_length - 1, 0), values])
    return np.stack(
        [
            padded[t - window_lag : t - window_lag + sequence_length]
            for t in range(window_lag, len(values))
        ]
    )


def test_windows_never_cross_a_series():
    frame = interleaved(make_panel())
    ids = frame["store"].to_numpy()
    X = frame[["sales", "t"]].to_numpy()
    layout = layout_of(ids)
    for lag in (0, 1, 3):
        windows, index = panel_windows(X, layout, 5, lag, [None] * 3, "cpu")
        for group, name in enumerate(layout.ids):
            rows = layout.rows(group)
            lo, hi = layout.bounds[group], layout.bounds[group + 1]
            got = windows[torch.as_tensor(index[lo + lag : hi])].numpy()
            expected = hand_windows(X[rows].astype(np.float32), 5, lag)
            np.testing.assert_array_equal(got, expected)
            assert (index[lo : lo + lag] == -1).all()


def test_estimator_reads_the_hand_built_windows():
    frame = interleaved(make_panel())
    reg = RecordingRegressor(series_column=0, x_scaler=None, **TINY)
    X = frame[["store", "sales"]].to_numpy(dtype=object)
    reg.fit(X, frame["sales"].to_numpy())
    reg.seen_["eval"].clear()
    reg.predict(X)
    # The first batch is the all-zero window of the rows without history.
    expected = np.concatenate(
        [
            hand_windows(frame.loc[frame.store == s, ["sales"]].to_numpy(), 4, 1)
            for s in LEVELS
        ]
    )
    (batch,) = reg.seen_["eval"][1:]
    seen = unpadded(batch, len(expected))
    np.testing.assert_array_equal(seen, expected.astype(np.float32))


@pytest.mark.parametrize("params", [{}, {"linear_skip": "combined"}])
def test_changing_one_series_never_changes_another(params):
    frame = make_panel()
    reg = fitted(frame, **params)
    before = reg.predict(frame)
    changed = frame.copy()
    is_b = changed.store == "b"
    changed.loc[is_b, "sales"] = np.random.default_rng(1).normal(0, 1e3, is_b.sum())
    after = reg.predict(changed)
    np.testing.assert_array_equal(after[~is_b], before[~is_b])
    assert not np.allclose(after[is_b], before[is_b])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_blocked_and_interleaved_rows_give_the_same_predictions(early_stopping):
    blocked = make_panel()
    # Interleaved by time step, the series in a random order at each step.
    mixed = blocked.sample(frac=1, random_state=0).sort_values("t", kind="stable")
    assert mixed.store.iloc[0] != "a"
    params = dict(early_stopping=early_stopping, validation_fraction=0.2)
    from_blocked = fitted(blocked, **params)
    from_mixed = fitted(mixed, **params)
    expected = pd.Series(from_blocked.predict(blocked), index=blocked.index)
    np.testing.assert_array_equal(from_blocked.predict(mixed), expected[mixed.index])
    np.testing.assert_array_equal(from_mixed.predict(mixed), expected[mixed.index])


def test_predictions_come_back_in_row_order_and_per_series_scaling_pays():
    frame = make_panel()
    reg = fitted(frame, max_iter=20, linear_skip=True, window_normalization="last")
    pred = pd.Series(reg.predict(frame), index=frame.index)
    for name, level in LEVELS.items():
        rows = frame.store == name
        error = (pred[rows] - frame.sales[rows]).iloc[1:]
        # Each series is predicted near its own level, not another's.
        assert np.sqrt(np.mean(error**2)) < 0.1 * abs(level)


def test_per_series_scalers_are_fitted_on_each_series():
    frame = make_panel()
    reg = fitted(frame)
    assert list(reg.series_) == list(LEVELS)
    for name, scaler in zip(reg.series_, reg.series_y_scalers_):
        values = frame.sales[frame.store == name]
        assert scaler.data_min_[0] == values.min()
        assert scaler.data_max_[0] == values.max()
    assert reg.y_scaler_.data_min_[0] == frame.sales.min()
    global_ = fitted(frame, series_scaling="global")
    assert global_.series_x_scalers_ is None and global_.series_y_scalers_ is None


def test_validation_rows_are_the_last_rows_of_each_series(monkeypatch):
    frame = interleaved(make_panel())
    captured = capture_training_sets(monkeypatch)
    # Unscaled targets that name their row: (series, time step).
    code = frame.store.map({"a": 0, "b": 1000, "c": 2000})
    y = (code + frame.t).to_numpy(dtype=float)
    reg = LSTMRegressor(
        series_column="store",
        early_stopping=True,
        validation_fraction=0.25,
        y_scaler=None,
        **TINY,
    )
    reg.fit(frame, y)
    gap = TINY["sequence_length"] - 1 + TINY["window_lag"]
    val = captured["validation"].y.numpy().ravel()
    train = captured["train"].y.numpy().ravel()
    for name, offset in {"a": 0, "b": 1000, "c": 2000}.items():
        n_targets = N_ROWS[name] - TINY["window_lag"]
        n_val = int(np.ceil(0.25 * n_targets))
        in_val = np.sort(val[(val >= offset) & (val < offset + 1000)]) - offset
        in_train = np.sort(train[(train >= offset) & (train < offset + 1000)]) - offset
        np.testing.assert_array_equal(
            in_val, np.arange(N_ROWS[name] - n_val, N_ROWS[name])
        )
        assert in_train.max() == N_ROWS[name] - n_val - gap - 1
        assert in_train.min() == TINY["window_lag"]


def test_integer_ids_positions_and_ndarrays():
    frame = make_panel()
    X = frame[["sales", "store"]].assign(
        store=frame.store.map({"a": 7, "b": 3, "c": 5})
    )
    by_name = LSTMRegressor(series_column="store", **TINY).fit(X, frame.sales)
    by_position = LSTMRegressor(series_column=-1, **TINY).fit(X.to_numpy(), frame.sales)
    assert list(by_name.series_) == [3, 5, 7]
    assert by_name.n_features_in_ == 2
    assert list(by_name.feature_names_in_) == ["sales", "store"]
    assert not hasattr(by_position, "feature_names_in_")
    np.testing.assert_array_equal(by_name.predict(X), by_position.predict(X.to_numpy()))
    with pytest.raises(ValueError, match="X has 1 features, but LSTMRegressor is"):
        by_position.predict(X.to_numpy()[:, :1])


def test_unseen_series_warn_or_raise():
    frame = make_panel()
    new = frame[frame.store == "a"].assign(store="z")
    reg = fitted(frame)
    with pytest.warns(UserWarning, match="1 series not seen in fit \\('z'\\)"):
        pred = reg.predict(new)
    assert np.isfinite(pred).all()
    reg.set_params(unseen_series="error")
    with pytest.raises(ValueError, match="not seen in fit: 'z'"):
        reg.predict(new)


@pytest.mark.parametrize(
    "params", [{}, {"linear_skip": "combined", "series_weighting": "skip"}]
)
def test_sample_weight_warm_start_and_partial_fit(params):
    frame = make_panel()
    weight = np.where(frame.store == "b", 0.0, 1.0)
    reg = LSTMRegressor(series_column="store", **TINY, **params)
    reg.fit(frame, frame.sales, sample_weight=weight)
    assert np.isfinite(reg.predict(frame)).all()
    reg.set_params(warm_start=True)
    reg.fit(frame, frame.sales)
    assert reg.n_iter_ == 2 * TINY["max_iter"]
    once = LSTMRegressor(series_column="store", **{**TINY, "max_iter": 2}, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        once.fit(frame, frame.sales)
    twice = LSTMRegressor(series_column="store", **TINY, **params)
    twice.partial_fit(frame, frame.sales).partial_fit(frame, frame.sales)
    np.testing.assert_array_equal(once.predict(frame), twice.predict(frame))


def test_pickle_round_trip():
    frame = make_panel()
    reg = fitted(frame)
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(frame), reg.predict(frame))


def _no_names(frame):
    return frame[["store", "sales"]].to_numpy(dtype=object)


def _nan_id(frame):
    out = frame.copy()
    out.loc[3, "store"] = np.nan
    return out


def _short_series(frame):
    return pd.concat([frame, pd.DataFrame({"store": ["d"] * 3, "sales": 1.0, "t": 0})])


@pytest.mark.parametrize(
    "params, make_X, match",
    [
        ({"series_column": "store"}, _no_names, "X has no column names"),
        ({"series_column": "shop"}, lambda f: f, "'shop' is not a column of X"),
        ({"series_column": 3}, lambda f: f, "out of range for X with 3 columns"),
        ({"series_column": "store"}, _nan_id, "missing values"),
        ({"series_column": "store"}, lambda f: f[["store"]], "only the series id"),
        (
            {"series_column": 0},
            lambda f: np.zeros((len(f), 4, 2)),
            "series_column needs a 2D X",
        ),
        (
            {"series_column": "store", "early_stopping": True},
            _short_series,
            "Series 'd' is too short for per-series validation",
        ),
        (
            {"series_column": "store", "window": "columns", "window_lag": 0},
            lambda f: f,
            "series_column applies to window='rows'",
        ),
    ],
)
def test_bad_input_raises_and_keeps_the_fitted_model(params, make_X, match):
    frame = make_panel()
    reg = fitted(frame)
    before = reg.predict(frame)
    reg.set_params(**params)
    X = make_X(frame)
    y = np.zeros(len(X))
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)
    reg.set_params(series_column="store", early_stopping=False, window="rows")
    reg.set_params(window_lag=TINY["window_lag"])
    np.testing.assert_array_equal(reg.predict(frame), before)
    assert list(reg.feature_names_in_) == ["store", "sales", "t"]


def test_predict_refuses_a_panel_model_without_series_column():
    frame = make_panel()
    reg = fitted(frame).set_params(series_column=None)
    with pytest.raises(ValueError, match="series_column is now None"):
        reg.predict(frame)


def test_refit_without_series_column_drops_the_series():
    frame = make_panel()
    reg = fitted(frame).set_params(series_column=None)
    reg.fit(frame[["sales", "t"]], frame.sales)
    assert not hasattr(reg, "series_")
    assert reg.predict(frame[["sales", "t"]]).shape == (len(frame),)


def test_rolling_forecast_predicts_each_series_from_its_own_history():
    frame = interleaved(make_panel())
    reg = fitted(frame)
    position = frame.groupby("store").cumcount().to_numpy()
    got = rolling_forecast(reg, frame, start=20)
    np.testing.assert_array_equal(got, reg.predict(frame)[position >= 20])
    # Rows far before the start are not needed.
    changed = frame.copy()
    changed.loc[position < 10, "sales"] = 0.0
    np.testing.assert_array_equal(rolling_forecast(reg, changed, start=20), got)
    with pytest.raises(ValueError, match="the longest series has 36 rows"):
        rolling_forecast(reg, frame, start=36)


def test_direct_targets_never_cross_a_series():
    frame = interleaved(make_panel())
    Y = make_direct_targets(frame.sales.to_numpy(), 3, series=frame.store.to_numpy())
    for name in LEVELS:
        rows = (frame.store == name).to_numpy()
        expected = make_direct_targets(frame.sales[rows].to_numpy(), 3)
        np.testing.assert_array_equal(Y[rows], expected)
    with pytest.raises(ValueError, match="series holds 2 ids"):
        make_direct_targets(frame.sales.to_numpy(), 3, series=["a", "b"])


def test_series_time_split_holds_out_the_same_tail_of_every_series():
    frame = interleaved(make_panel())
    position = frame.groupby("store").cumcount().to_numpy()
    length = frame.groupby("store").store.transform("size").to_numpy()
    cv = SeriesTimeSplit(3, series_column="store", test_size=4, gap=2)
    folds = list(cv.split(frame))
    assert len(folds) == cv.get_n_splits() == 3
    for k, (train, test) in enumerate(folds):
        from_end = (length - position)[test]
        assert sorted(set(from_end)) == list(range((2 - k) * 4 + 1, (3 - k) * 4 + 1))
        assert len(test) == 4 * len(LEVELS)
        assert ((length - position)[train] > (3 - k) * 4 + 2).all()
        assert len(train) == sum(n - (3 - k) * 4 - 2 for n in N_ROWS.values())
    by_groups = SeriesTimeSplit(3, test_size=4, gap=2).split(frame, groups=frame.store)
    for (a, b), (c, d) in zip(folds, by_groups):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    with pytest.raises(ValueError, match="set series_column"):
        next(SeriesTimeSplit().split(frame))
    with pytest.raises(ValueError, match="too few for 5 folds"):
        next(SeriesTimeSplit(5, series_column="store", test_size=5).split(frame))


def test_series_time_split_in_grid_search_and_cross_validate():
    frame = make_panel()
    cv = SeriesTimeSplit(2, series_column="store", test_size=5)
    reg = LSTMRegressor(series_column="store", **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_validate(reg, frame, frame.sales, cv=cv)
        search = GridSearchCV(reg, {"hidden_size": [2, 4]}, cv=cv).fit(
            frame, frame.sales
        )
    assert np.isfinite(scores["test_score"]).all()
    assert search.best_params_["hidden_size"] in (2, 4)


def test_make_forecaster_takes_series_column():
    frame = make_panel()
    reg = make_forecaster(series_column="store", max_iter=2, hidden_size=4)
    assert reg.series_column == "store" and reg.linear_skip == "combined"
    assert reg.sequence_length == 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(frame[["store", "sales"]], frame.sales)
    assert rolling_forecast(reg, frame[["store", "sales"]], start=20).shape == (
        sum(n - 20 for n in N_ROWS.values()),
    )


@pytest.mark.parametrize(
    "params, ids",
    [
        ({}, {"a": "a", "b": "b", "c": "c"}),
        ({"series_scaling": "global"}, {"a": 7, "b": 3, "c": 5}),
        ({"early_stopping": True, "x_scaler": None}, {"a": 1.5, "b": "b", "c": 2}),
        ({}, {"a": np.int64(4), "b": np.str_("b"), "c": np.float64(0.5)}),
        ({"linear_skip": "combined"}, {"a": "a", "b": "b", "c": "c"}),
        (
            {"linear_skip": "combined", "series_weighting": "skip"},
            {"a": "a", "b": "b", "c": "c"},
        ),
    ],
)
def test_save_load_round_trip_is_bit_identical(tmp_path, params, ids):
    frame = make_panel().assign(store=lambda f: f.store.map(ids))
    reg = fitted(frame, **params)
    sklstm.save(reg, tmp_path / "panel.sklstm")
    loaded = sklstm.load(tmp_path / "panel.sklstm")
    assert list(loaded.series_) == list(reg.series_)
    # numpy scalars come back as the Python values they equal.
    plain = [s.item() if isinstance(s, np.generic) else s for s in reg.series_]
    assert [type(s) for s in loaded.series_] == [type(s) for s in plain]
    np.testing.assert_array_equal(loaded.predict(frame), reg.predict(frame))
    reg.partial_fit(frame, frame.sales)
    loaded.partial_fit(frame, frame.sales)
    np.testing.assert_array_equal(loaded.predict(frame), reg.predict(frame))


def test_save_refuses_ids_it_cannot_store(tmp_path):
    frame = make_panel().assign(store=lambda f: f.store.map(lambda s: (s,)))
    reg = fitted(frame)
    with pytest.raises(TypeError, match="series ids that are str, int or float"):
        sklstm.save(reg, tmp_path / "panel.sklstm")


def test_series_prediction_display_draws_a_chosen_series():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = interleaved(make_panel())
    reg = fitted(frame)
    display = SeriesPredictionDisplay.from_estimator(
        reg, frame, frame.sales, series="b"
    )
    rows = (frame.store == "b").to_numpy()
    np.testing.assert_array_equal(display.y_true, frame.sales[rows])
    np.testing.assert_array_equal(display.y_pred, reg.predict(frame)[rows])
    np.testing.assert_array_equal(display.index, frame.index[rows])
    assert display.n_warmup == TINY["sequence_length"] - 1 + TINY["window_lag"]
    with pytest.raises(ValueError, match="pass series= the id"):
        SeriesPredictionDisplay.from_estimator(reg, frame, frame.sales)
    with pytest.raises(ValueError, match="no row of series 'z'"):
        SeriesPredictionDisplay.from_estimator(reg, frame, frame.sales, series="z")
    plt.close("all")


def test_naive_weighting_balances_the_series_in_the_loss(monkeypatch):
    frame = interleaved(make_panel())
    captured = capture_training_sets(monkeypatch)
    extra = np.where(frame.store == "a", 2.0, 1.0)
    reg = LSTMRegressor(series_column="store", **TINY)
    reg.fit(frame, frame.sales, sample_weight=extra)
    train = captured["train"]
    weight, y = train.weight.numpy(), train.y.numpy().ravel()
    # Targets are in layout order (series a, b, c), each in time order.
    n_targets = [N_ROWS[s] - TINY["window_lag"] for s in LEVELS]
    parts = np.split(np.arange(len(y)), np.cumsum(n_targets)[:-1])
    expected = []
    for name, part, scaler in zip(LEVELS, parts, reg.series_y_scalers_):
        values = frame.sales[frame.store == name].to_numpy()[:, None]
        step = np.mean(np.diff(scaler.transform(values), axis=0) ** 2)
        expected.append(np.full(len(part), (2.0 if name == "a" else 1.0) / step))
    expected = np.concatenate(expected)
    np.testing.assert_allclose(weight, expected / expected.mean(), rtol=1e-5)
    reg.set_params(series_weighting=None).fit(frame, frame.sales)
    assert captured["train"].weight is None


def test_skip_weighting_scales_each_series_by_its_skip_error(monkeypatch):
    # Untrained (head at zero) the model forecasts each series' own skip, so
    # its errors on the training targets are the skip's.
    frame = interleaved(make_panel())
    captured = capture_training_sets(monkeypatch)
    extra = np.where(frame.store == "b", 3.0, 1.0)
    params = {**TINY, "max_iter": 1, "learning_rate_init": 1e-12}
    reg = LSTMRegressor(
        series_column="store", linear_skip="combined", series_weighting="skip", **params
    )
    reg.fit(frame, frame.sales, sample_weight=extra)
    predicted = reg.predict(frame)
    expected = []
    for name, scaler in zip(LEVELS, reg.series_y_scalers_):
        rows = (frame.store == name).to_numpy()
        truth = scaler.transform(frame.sales[rows].to_numpy()[1:, None])
        skip = scaler.transform(predicted[rows][1:, None])
        mse = np.mean((truth - skip) ** 2)
        expected.append(np.full(len(truth), (3.0 if name == "b" else 1.0) / mse))
    expected = np.concatenate(expected)
    weight = captured["train"].weight.numpy()
    np.testing.assert_allclose(weight, expected / expected.mean(), rtol=1e-3)
    # Without a skip there is no skip error: the naive weights.
    reg.set_params(linear_skip=False).fit(frame, frame.sales, sample_weight=extra)
    naive = captured["train"].weight
    reg.set_params(series_weighting="naive").fit(
        frame, frame.sales, sample_weight=extra
    )
    np.testing.assert_array_equal(naive, captured["train"].weight)


def test_skip_weighting_keeps_the_lstm_off_a_series_its_skip_forecasts():
    # Series c is a straight line, which the skip forecasts exactly: weighted
    # by the naive change the LSTM disturbs it, weighted by the skip's error
    # it learns to leave it be.
    frame = make_panel()[["store", "sales"]]
    c = (frame.store == "c").to_numpy()
    frame.loc[c, "sales"] = 100.0 + 2.0 * np.arange(c.sum())
    params = {**TINY, "linear_skip": "combined", "max_iter": 30}
    errors = {}
    for weighting in ("naive", "skip"):
        reg = fitted(frame, series_weighting=weighting, **params)
        pred = reg.predict(frame)[c][1:]
        errors[weighting] = np.abs(pred - frame.sales[c].to_numpy()[1:]).mean()
    assert errors["skip"] < errors["naive"] / 2


def test_skip_weighting_resumes_on_a_series_new_to_the_model():
    # A series unseen in fit has the pooled skip; partial_fit weighs its
    # rows by that skip's error instead of failing on its missing position.
    frame = make_panel()[["store", "sales"]]
    reg = fitted(frame, linear_skip="combined", series_weighting="skip")
    a = frame[frame.store == "a"]
    more = pd.concat([frame, a.assign(store="new")], ignore_index=True)
    with pytest.warns(UserWarning, match="not seen in fit"):
        reg.partial_fit(more, more.sales)
    assert np.isfinite(reg.predict(frame)).all()


def test_to_onnx_refuses_panel_models(tmp_path):
    with pytest.raises(ValueError, match="does not export models fitted on many"):
        sklstm.to_onnx(fitted(), tmp_path / "panel.onnx")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"early_stopping": True},
        {"linear_skip": True},
        {"linear_skip": "combined", "early_stopping": True},
    ],
)
def test_a_panel_of_one_series_is_the_single_series_model(params):
    frame = make_panel()
    one = frame[frame.store == "c"]
    params = {**TINY, "window_normalization": "last", **params}
    single = LSTMRegressor(**params).fit(one[["sales"]], one.sales)
    panel = LSTMRegressor(series_column="store", series_weighting=None, **params)
    panel.fit(one[["store", "sales"]], one.sales)
    np.testing.assert_array_equal(
        panel.predict(one[["store", "sales"]]), single.predict(one[["sales"]])
    )


@pytest.mark.parametrize(
    ("linear_skip", "walk"), [(True, False), ("combined", False), ("combined", True)]
)
def test_each_series_gets_the_linear_skip_of_its_own_windows(linear_skip, walk):
    # Untrained (head at zero), the panel model is each series' own skip:
    # that of a model fitted on the series alone. With ``walk``, series c is
    # an integrated random walk, whose combined skip keeps only the models
    # on second differences, while a and b keep every form.
    frame = make_panel()[["store", "sales"]]
    if walk:
        c = frame.store == "c"
        steps = np.random.default_rng(0).standard_normal(c.sum())
        frame.loc[c, "sales"] = 500 + steps.cumsum().cumsum()
        assert n_differences(frame.sales[c].to_numpy()[1:]) == 2
        assert n_differences(frame.sales[frame.store == "a"].to_numpy()[1:]) < 2
    params = {
        **TINY,
        "linear_skip": linear_skip,
        "window_normalization": "last",
        "max_iter": 1,
        "learning_rate_init": 1e-12,
    }
    panel = fitted(frame, **params)
    assert panel.series_skip_coef_.shape == (3, 4 + 1, 1)
    predicted = panel.predict(frame)
    for name in LEVELS:
        one = frame[frame.store == name]
        single = LSTMRegressor(**params).fit(one[["sales"]], one.sales)
        np.testing.assert_allclose(
            predicted[frame.store == name], single.predict(one[["sales"]]), rtol=1e-5
        )
    # A series new to the model gets the pooled skip, without correction.
    panel = fitted(frame, **params, series_scaling="global")
    a = frame[frame.store == "a"]
    with pytest.warns(UserWarning, match="not seen in fit"):
        unseen = panel.predict(a.assign(store="new"))
    assert not np.allclose(unseen, panel.predict(a), rtol=1e-3)
    panel.series_skip_coef_[:] = 0.0
    np.testing.assert_array_equal(panel.predict(a), unseen)


def test_a_series_without_weight_gets_the_pooled_skip():
    frame = make_panel()
    weight = np.where(frame.store == "b", 0.0, 1.0)
    reg = LSTMRegressor(series_column="store", linear_skip="combined", **TINY).fit(
        frame[["store", "sales"]], frame.sales, sample_weight=weight
    )
    b = list(reg.series_).index("b")
    assert not reg.series_skip_coef_[b].any()
    assert all(reg.series_skip_coef_[k].any() for k in range(3) if k != b)


def test_an_ensemble_over_many_series_returns_the_members_spread():
    frame = make_panel()
    reg = fitted(frame, n_estimators=3, linear_skip=True, early_stopping=True)
    mean, std = reg.predict(frame, return_std=True)
    assert mean.shape == std.shape == (len(frame),)
    np.testing.assert_array_equal(mean, reg.predict(frame))
    assert (std[frame.t.to_numpy() >= 1] > 0).all()
    # Blocked and interleaved rows still give each row the same prediction.
    shuffled = interleaved(frame)
    np.testing.assert_allclose(
        reg.predict(shuffled), pd.Series(mean, index=frame.index)[shuffled.index]
    )


@pytest.mark.parametrize(
    "manifest, tensors, match",
    [
        (lambda m: m.update(format_version=3), None, "format version 4"),
        (None, lambda t: t.update(series_skip=t["series_skip"][:2]), "series_skip"),
        (
            lambda m: m["params"].update(linear_skip=False),
            None,
            "(series_skip|skip_weight)",
        ),
    ],
)
def test_load_checks_the_per_series_skip(tmp_path, manifest, tensors, match):
    from test_persistence import _tamper

    frame = make_panel()
    reg = fitted(frame, linear_skip="combined")
    path = tmp_path / "panel.sklstm"
    sklstm.save(reg, path)
    data = _tamper(path.read_bytes(), manifest=manifest, tensors=tensors)
    with pytest.raises(sklstm.ModelFileError, match=match):
        sklstm.load(io.BytesIO(data))
