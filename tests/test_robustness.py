"""Generated hostile inputs, concurrent predictions and fits in worker processes.

Every call either succeeds with finite predictions of the right shape or
raises a ValueError/TypeError with a message: never another exception and
never a silent NaN.
"""

import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from sklstm import LSTMRegressor

# database=None: the tests write no .hypothesis folder.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TINY = {
    "hidden_size": 4,
    "num_layers": 1,
    "max_iter": 2,
    "batch_size": 8,
    "random_state": 0,
}
SPECIALS = [np.nan, np.inf, -np.inf]
HUGE = [1e30, -1e30, 1e-30, 0.0, 1e300, -1e300]
DTYPES = ["float64", "float32", "int64", "bool", "Int64", "Float64"]


@st.composite
def matrices(draw, n_rows, n_cols, allow_specials=True):
    """A float64 matrix with optional constant columns, huge and special values."""
    values = draw(
        st.lists(
            st.floats(-10, 10) | st.sampled_from(HUGE),
            min_size=n_rows * n_cols,
            max_size=n_rows * n_cols,
        )
    )
    matrix = np.array(values, dtype=np.float64).reshape(n_rows, n_cols)
    if n_cols and draw(st.booleans()):
        matrix[:, draw(st.integers(0, n_cols - 1))] = draw(
            st.sampled_from([0.0, 3.0, 1e30])
        )
    if allow_specials and matrix.size and draw(st.integers(0, 3)) == 0:
        flat = matrix.reshape(-1)
        for position in draw(
            st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=3)
        ):
            flat[position] = draw(st.sampled_from(SPECIALS))
    return matrix


def _as_dtype(matrix, dtype, missing):
    """``matrix`` as ``dtype``; pandas nullable frames get pd.NA where ``missing``."""
    finite = np.nan_to_num(matrix, nan=0.0, posinf=1e9, neginf=-1e9)
    if dtype == "bool":
        return finite > 0
    if dtype in ("int64", "Int64"):
        # Values beyond int64 are clipped, as a user's integer data would be.
        ints = np.clip(np.round(finite), -(2**53), 2**53).astype(np.int64)
        if dtype == "int64":
            return ints
        frame = pd.DataFrame(ints).astype("Int64")
    elif dtype == "Float64":
        frame = pd.DataFrame(matrix).astype("Float64")
    else:
        with np.errstate(over="ignore"):  # 1e300 becomes inf in float32
            return matrix.astype(dtype)
    if missing:
        where = np.zeros(frame.shape, dtype=bool)
        where[0, -1] = True
        frame = frame.mask(where)  # pd.NA in nullable columns
    return frame


@st.composite
def estimators(draw):
    return LSTMRegressor(
        sequence_length=draw(st.integers(1, 5)),
        window_lag=draw(st.integers(0, 2)),
        window_normalization=draw(st.sampled_from([None, "standard", "last"])),
        x_scaler=draw(st.sampled_from(["minmax", None, StandardScaler()])),
        y_scaler=draw(st.sampled_from(["minmax", None, StandardScaler()])),
        loss=draw(st.sampled_from(["squared_error", "absolute_error", "huber"])),
        early_stopping=draw(st.booleans()),
        **TINY,
    )


def _outcome(call):
    """The call's result, or None after a ValueError/TypeError with a message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        event(f"{type(exc).__name__}: {str(exc)[:40]}")
        return None


def _check_predict(fitted, X, n_rows, y_shape):
    """predict either raises a clear error or returns finite, well-shaped values."""
    predictions = _outcome(lambda: fitted.predict(X))
    if predictions is not None:
        assert isinstance(predictions, np.ndarray)
        assert predictions.shape == (n_rows,) + tuple(y_shape[1:])
        assert np.isfinite(predictions).all(), predictions


@FUZZ
@given(data=st.data())
def test_fit_predict_on_generated_series(data):
    n_rows = data.draw(st.integers(1, 24), label="n_rows")
    n_features = data.draw(st.integers(1, 3), label="n_features")
    n_outputs = data.draw(st.sampled_from([None, 1, 2]), label="n_outputs")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    missing = data.draw(st.booleans(), label="pd.NA")
    X = _as_dtype(data.draw(matrices(n_rows, n_features)), dtype, missing)
    y = data.draw(matrices(n_rows, n_outputs or 1))
    y = y.ravel() if n_outputs is None else y
    estimator = data.draw(estimators())

    fitted = _outcome(lambda: estimator.fit(X, y))
    if fitted is None:
        return
    _check_predict(fitted, X, n_rows, y.shape)

    n_new = data.draw(st.integers(1, 12), label="n_new")
    X_new = _as_dtype(data.draw(matrices(n_new, n_features)), dtype, missing)
    _check_predict(fitted, X_new, n_new, y.shape)


@FUZZ
@given(data=st.data())
def test_fit_predict_on_generated_windows(data):
    n_samples = data.draw(st.integers(0, 8), label="n_samples")
    length = data.draw(st.integers(1, 4), label="window length")
    n_features = data.draw(st.integers(0, 2), label="n_features")
    X = data.draw(matrices(n_samples * length, n_features)).reshape(
        n_samples, length, n_features
    )
    y = data.draw(matrices(n_samples, 1)).ravel()
    dtype = data.draw(st.sampled_from(["float64", "float32", "int64", "bool"]))
    X = _as_dtype(X.reshape(n_samples * length, n_features), dtype, False).reshape(
        X.shape
    )
    estimator = data.draw(estimators()).set_params(
        sequence_length=data.draw(st.integers(1, 4), label="sequence_length")
    )
    fitted = _outcome(lambda: estimator.fit(X, y))
    if fitted is None:
        return
    _check_predict(fitted, X, n_samples, y.shape)
    X_new = data.draw(matrices(3 * length, n_features)).reshape(3, length, n_features)
    _check_predict(fitted, X_new, 3, y.shape)


def test_windows_without_features_raise_a_clear_error():
    with pytest.raises(ValueError, match="0 feature\\(s\\)"):
        LSTMRegressor(sequence_length=3, **TINY).fit(np.zeros((5, 3, 0)), np.zeros(5))


@pytest.mark.parametrize(
    "X_scale, y_scale",
    [(1.0, 1e30), (1e30, 1.0), (1e30, 1e30), (1e300, 1.0), (1.0, 1e300)],
)
def test_huge_magnitudes(X_scale, y_scale):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(30, 2)) * X_scale
    y = rng.uniform(-1, 1, size=30) * y_scale
    estimator = LSTMRegressor(sequence_length=3, **TINY).fit(X, y)
    predictions = estimator.predict(X)
    assert np.isfinite(predictions).all()
    # In the units of y: an untrained model's outputs stay near y's range.
    assert np.abs(predictions).max() <= 10 * np.abs(y).max()


def test_ranges_that_overflow_are_refused():
    X = np.linspace(0, 1, 20).reshape(-1, 1)
    with pytest.raises(ValueError, match="range of y"):
        LSTMRegressor(sequence_length=3, **TINY).fit(X, np.r_[1e308, -1e308, X[2:, 0]])
    with pytest.raises(ValueError, match="range of X"):
        LSTMRegressor(sequence_length=3, **TINY).fit(
            np.r_[[[1e308], [-1e308]], X[2:]], X[:, 0]
        )


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_inputs_beyond_float32_after_scaling_raise_instead_of_nan():
    # Scaled to about 1e300, X reaches the float32 network as inf; the
    # window statistics of window_normalization then turn it into NaN.
    X = np.linspace(0, 1, 40).reshape(-1, 2)
    estimator = LSTMRegressor(
        sequence_length=3, window_normalization="standard", **TINY
    )
    estimator.fit(X, X[:, 0])
    with pytest.raises(ValueError, match="non-finite predictions.*extreme values"):
        estimator.predict(X * 1e300)


# -- threads and processes --------------------------------------------------


def test_concurrent_predictions_equal_serial_ones():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(300, 3))
    estimator = LSTMRegressor(
        sequence_length=5, hidden_size=8, max_iter=2, random_state=0
    )
    estimator.fit(X, X.sum(axis=1))
    inputs = [X[i * 20 : i * 20 + 100] for i in range(10)]
    serial = [estimator.predict(x) for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(estimator.predict, inputs))
            for got, expected in zip(concurrent, serial):
                np.testing.assert_array_equal(got, expected)


_WORKER_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from joblib import Parallel, delayed
    from sklstm import LSTMRegressor

    def fit(seed, X, y):
        return LSTMRegressor(sequence_length=3, hidden_size=4, max_iter=2,
                             random_state=seed, verbose=0).fit(X, y).predict(X)

    X = np.random.RandomState(0).uniform(size=(400, 2))
    y = X.sum(axis=1)
    # max_nbytes="1K" makes joblib hand X and y to the workers as memmaps.
    results = Parallel(n_jobs=2, max_nbytes="1K")(
        delayed(fit)(seed, X, y) for seed in range(4)
    )
    assert all(np.isfinite(r).all() for r in results)
    print("fitted", len(results))
    """
)


def test_fitting_in_joblib_workers_leaves_no_files(tmp_path):
    # A fresh process whose working directory and temporary directory are
    # empty folders of our own, so that other processes' files do not count.
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "JOBLIB_TEMP_FOLDER": str(temp),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(
            [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
            + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", _WORKER_SCRIPT],
        check=False,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "fitted 4" in result.stdout
    assert list(work.iterdir()) == []
    assert list(temp.iterdir()) == []
