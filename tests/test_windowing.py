"""The gather-based windows equal a naive copy of every window.

The reference here is the obvious loop: the window of target row ``t`` is rows
``t - window_lag - sequence_length + 1`` to ``t - window_lag`` of the series,
with rows before the first one replaced by the first row (warm-up padding).
The first ``window_lag`` rows have no earlier row and get no window.
"""

import numpy as np
import pytest
import torch
from _helpers import RecordingRegressor, capture_training_sets, unpadded
from sklearn.preprocessing import StandardScaler

from sklstm import LSTMRegressor, _windowing
from sklstm._windowing import gather, padded_series, scaled_tensor, series_windows


def naive_windows(X, sequence_length, window_lag):
    """The window of every row ``t >= window_lag`` as an explicit copy."""
    rows = range(window_lag, len(X))
    windows = np.empty((len(rows), sequence_length, X.shape[1]), dtype=X.dtype)
    for i, t in enumerate(rows):
        for k in range(sequence_length):
            row = t - window_lag - sequence_length + 1 + k
            assert row < t or window_lag == 0  # the target row only with lag 0
            windows[i, k] = X[max(row, 0)]
    return windows


def _series_windows(X, sequence_length, window_lag, transform=None):
    series = padded_series(X, sequence_length, transform)
    return series_windows(series, sequence_length, window_lag)


# (n_rows, n_features, sequence_length, window_lag); the last ones have a
# series shorter than one window, so some windows are all padding.
SHAPES = [
    (1, 1, 1, 0),
    (7, 1, 1, 0),
    (20, 3, 5, 0),
    (20, 3, 5, 1),
    (33, 2, 4, 3),
    (12, 4, 12, 0),
    (3, 2, 8, 0),
    (3, 2, 8, 2),
    (1, 5, 6, 4),
]


@pytest.mark.parametrize("n_rows, n_features, sequence_length, window_lag", SHAPES)
def test_series_windows_equal_naive_copy(
    n_rows, n_features, sequence_length, window_lag
):
    rng = np.random.default_rng(n_rows * 100 + sequence_length)
    X = rng.standard_normal((n_rows, n_features)).astype(np.float32)
    windows = _series_windows(X, sequence_length, window_lag)
    assert len(windows) == max(n_rows - window_lag, 0)
    got = gather(windows, torch.arange(len(windows))).numpy()
    np.testing.assert_array_equal(got, naive_windows(X, sequence_length, window_lag))


@pytest.mark.parametrize("seed", range(20))
def test_shuffled_batches_equal_naive_copy(seed):
    # Random shapes and alignments, gathered in random order and batch sizes
    # as the training loop does.
    rng = np.random.default_rng(seed)
    n_rows = int(rng.integers(1, 200))
    n_features = int(rng.integers(1, 6))
    sequence_length = int(rng.integers(1, 30))
    window_lag = int(rng.integers(0, 5))
    X = rng.standard_normal((n_rows, n_features))
    windows = _series_windows(X, sequence_length, window_lag)
    expected = naive_windows(X.astype(np.float32), sequence_length, window_lag)

    order = torch.as_tensor(rng.permutation(len(expected)))
    batch_size = int(rng.integers(1, 40))
    for start in range(0, len(expected), batch_size):
        idx = order[start : start + batch_size]
        np.testing.assert_array_equal(
            gather(windows, idx).numpy(), expected[idx.numpy()]
        )


def test_transform_is_applied_chunk_by_chunk(monkeypatch):
    # A series longer than a chunk is transformed in pieces; the windows must
    # equal those of the whole transformed series.
    monkeypatch.setattr(_windowing, "_CHUNK_ROWS", 7)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)) * [1.0, 10.0, 100.0] + 5.0
    scaler = StandardScaler().fit(X)
    windows = _series_windows(X, 6, 1, scaler.transform)
    expected = naive_windows(scaler.transform(X).astype(np.float32), 6, 1)
    np.testing.assert_allclose(
        gather(windows, torch.arange(49)).numpy(), expected, rtol=1e-6, atol=1e-6
    )


def test_padded_series_is_the_only_full_size_copy():
    # Memory grows with n_rows * n_features: the series is padded once and
    # no (n_rows, sequence_length, n_features) tensor exists.
    X = np.zeros((1000, 2), dtype=np.float32)
    series = padded_series(X, 64)
    assert series.shape == (1000 + 63, 2)
    assert series.dtype == torch.float32
    windows = series_windows(series, 64, 2)
    assert windows.shape == (998, 64, 2)
    assert windows.data_ptr() == series.data_ptr()  # a view, not a copy


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_scaled_tensor_equals_the_scaled_array(seed, ndim, monkeypatch):
    monkeypatch.setattr(_windowing, "_CHUNK_ROWS", 5)
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 12, size=ndim))
    n, n_features = shape[0], shape[-1]
    X = rng.standard_normal(shape) * 3.0 + 1.0
    scaler = StandardScaler().fit(X.reshape(-1, n_features))
    out = scaled_tensor(X, scaler.transform)
    assert out.dtype == torch.float32
    expected = scaler.transform(X.reshape(-1, n_features)).reshape(X.shape)

    idx = torch.as_tensor(rng.permutation(n))
    np.testing.assert_allclose(
        gather(out, idx).numpy(), expected[idx.numpy()], rtol=1e-6, atol=1e-6
    )


def _recording(**params):
    """A small unscaled recorder: what it records are the raw windows of X."""
    defaults = dict(
        sequence_length=6,
        hidden_size=4,
        num_layers=1,
        batch_size=8,
        x_scaler=None,
        y_scaler=None,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    return RecordingRegressor(**{**defaults, **params})


@pytest.mark.parametrize("window_lag", [0, 1, 3])
def test_estimator_feeds_the_naive_windows(window_lag):
    # End to end: without scaling or shuffling, the batches fit and predict
    # hand to the module, in order, are exactly the naive windows.
    rng = np.random.default_rng(window_lag)
    X = rng.standard_normal((37, 2)).astype(np.float32)
    y = rng.standard_normal(37)
    est = _recording(window_lag=window_lag, max_iter=1, shuffle=False).fit(X, y)
    expected = naive_windows(X, 6, window_lag)
    np.testing.assert_array_equal(torch.cat(est.seen_["train"]).numpy(), expected)

    est.predict(X)
    batches = est.seen_["eval"]
    if window_lag:  # the rows without history share one all-zero window
        assert not unpadded(batches[0], 1)[0].any()
        batches = batches[1:]
    (batch,) = batches
    np.testing.assert_array_equal(unpadded(batch, len(expected)), expected)


def test_shuffled_epochs_feed_each_training_window_once_and_validate_the_last():
    # With early stopping: every epoch trains on a new permutation of exactly
    # the training windows, and scores the last rows' windows in order.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 2)).astype(np.float32)
    est = _recording(
        window_lag=1, max_iter=2, early_stopping=True, validation_fraction=0.25
    ).fit(X, rng.standard_normal(37))
    expected = naive_windows(X, 6, 1)
    seen = torch.cat(est.seen_["train"]).numpy()
    # Row 0 has no history: of the 36 targets, 9 validate, after a gap of
    # sequence_length - 1 + window_lag = 6 rows.
    n_train = 36 - 9 - 6
    first, second = seen[:n_train], seen[n_train:]

    def as_set(windows):  # a multiset: the first rows' padded windows repeat
        return sorted(w.tobytes() for w in windows)

    assert as_set(first) == as_set(second) == as_set(expected[:n_train])
    assert not np.array_equal(first, second)
    validation = torch.cat(est.seen_["eval"]).numpy()
    np.testing.assert_array_equal(validation, np.concatenate([expected[27:]] * 2))


def test_training_and_validation_sets_share_one_series(monkeypatch):
    # Both sets are slices of the same padded series and scaled targets:
    # no per-set copy of windows, targets or row indices.
    captured = capture_training_sets(monkeypatch)
    rng = np.random.default_rng(0)
    LSTMRegressor(5, hidden_size=4, num_layers=1, max_iter=1, early_stopping=True).fit(
        rng.standard_normal((50, 3)), rng.standard_normal(50)
    )
    train, validation = captured["train"], captured["validation"]
    for name in ("windows", "y"):
        a, b = getattr(train, name), getattr(validation, name)
        assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    # validation_fraction=0.1: 5 rows, after a gap of sequence_length - 1 = 4.
    assert (len(train.y), len(validation.y)) == (50 - 5 - 4, 5)
