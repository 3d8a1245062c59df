"""No look-ahead in any window, and seeds that hold in threads and processes.

Two guarantees users cannot check by eye: with ``window_lag >= 1`` nothing at
or after row ``t`` reaches row ``t``'s prediction, and a fixed
``random_state`` gives the same model however the fits are scheduled.
"""

import numpy as np
import pytest
import torch
from _helpers import future_changed
from joblib import Parallel, delayed

from sklstm import LSTMRegressor, rolling_forecast

SMALL = dict(sequence_length=4, hidden_size=8, num_layers=1, max_iter=4)


def _series(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.sin(np.arange(n) / 3) + 0.1 * rng.standard_normal(n)
    return y.reshape(-1, 1), y


@pytest.mark.parametrize("window_lag", [1, 2, 5])
@pytest.mark.parametrize("normalization", [None, "last", "standard"])
def test_no_prediction_reads_its_target_row_or_later(window_lag, normalization):
    X, y = _series()
    reg = LSTMRegressor(
        window_lag=window_lag,
        window_normalization=normalization,
        random_state=0,
        **SMALL,
    ).fit(X, y)
    reference = reg.predict(X)
    for t, changed in future_changed(X, 5.0, 3.0, seed=1):
        assert reg.predict(changed)[t] == reference[t], t
        # The row alone, and with its real history (rolling_forecast's way).
        with pytest.warns(UserWarning, match="no row has a window"):
            alone = reg.predict(changed[t : t + 1])[0]
            constant = reg.predict(np.full((1, 1), 7.0))[0]
        assert alone == constant
        if t:
            assert rolling_forecast(reg, changed, start=t)[0] == reference[t]


@pytest.mark.parametrize("window_lag", [1, 3])
def test_rows_without_history_are_not_targets(window_lag):
    # The first window_lag rows have no earlier row: their targets take no
    # part in the training, so (with a y_scaler fitted on other data, here
    # none) changing them changes nothing.
    X, y = _series()
    params = dict(
        SMALL, window_lag=window_lag, random_state=0, early_stopping=True, y_scaler=None
    )
    a = LSTMRegressor(**params).fit(X, y)
    changed = y.copy()
    changed[:window_lag] = [1e3, -1e3, 50.0][:window_lag]
    b = LSTMRegressor(**params).fit(X, changed)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_


def test_too_few_rows_for_any_target_is_an_error_that_keeps_the_model():
    X, y = _series()
    reg = LSTMRegressor(window_lag=3, random_state=0, **SMALL).fit(X, y)
    before = reg.predict(X)
    with pytest.raises(ValueError, match="Pass at least 4 rows"):
        reg.fit(X[:3], y[:3])
    np.testing.assert_array_equal(reg.predict(X), before)


def _fit_predict(params, X, y):
    return LSTMRegressor(**params).fit(X, y).predict(X)


PARAMS = [
    dict(SMALL, random_state=seed, num_layers=2, dropout=dropout)
    for seed in range(4)
    for dropout in (0.0, 0.4)
]


def test_threaded_fits_equal_serial_fits_bit_for_bit():
    X, y = _series(80)
    serial = [_fit_predict(p, X, y) for p in PARAMS]
    threaded = Parallel(n_jobs=4, backend="threading")(
        delayed(_fit_predict)(p, X, y) for p in PARAMS
    )
    processes = Parallel(n_jobs=2, backend="loky")(
        delayed(_fit_predict)(p, X, y) for p in PARAMS[:4]
    )
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(serial, processes):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(serial[0], serial[2])  # the seeds differ


def test_dropout_draws_from_the_fit_s_own_generator():
    # Dropout is really applied (a different mask stream, a different fit),
    # the process-wide generator is neither read nor moved, and a fit split
    # into partial_fit calls continues the same stream.
    X, y = _series(80)
    params = dict(SMALL, num_layers=2, dropout=0.4, random_state=0, shuffle=False)
    state = torch.get_rng_state()
    full = LSTMRegressor(**dict(params, max_iter=2, n_iter_no_change=np.inf))
    full.fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    steps = LSTMRegressor(**params)
    steps.partial_fit(X, y).partial_fit(X, y)
    np.testing.assert_array_equal(full.predict(X), steps.predict(X))
    plain = LSTMRegressor(**dict(params, dropout=0.0, max_iter=2)).fit(X, y)
    assert not np.array_equal(full.predict(X), plain.predict(X))


def test_weights_follow_the_nn_lstm_initialisation():
    # Same distributions as nn.LSTM and nn.Linear: uniform within
    # 1/sqrt(hidden) and 1/sqrt(fan_in), filling the range.
    reg = LSTMRegressor(hidden_size=64, max_iter=1, random_state=0)
    module = reg._build_module(3, 1, torch.Generator().manual_seed(0))
    bound = 1 / np.sqrt(64)
    for name, weight in module.lstm.named_parameters():
        assert weight.abs().max() <= bound, name
        assert weight.abs().max() > 0.95 * bound, name
    head = torch.cat([module.head.weight.ravel(), module.head.bias])
    assert head.abs().max() <= bound and head.std() > 0.4 * bound
    again = reg._build_module(3, 1, torch.Generator().manual_seed(0))
    for a, b in zip(module.parameters(), again.parameters()):
        assert torch.equal(a, b)
