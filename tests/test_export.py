"""Torch-free pickles, skops, MLflow's default format and the ONNX export."""

import copy
import io
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)

import sklstm
from sklstm import LSTMRegressor

SMALL = {"sequence_length": 4, "hidden_size": 6, "max_iter": 3, "random_state": 0}
# What skops.io.get_untrusted_types reports for an LSTMRegressor with the
# scikit-learn scalers; the user guide documents this list.
TRUSTED = ["sklstm._regressor.LSTMRegressor"]
USER_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user_guide.rst"


def _data(n_rows=60, n_features=2, n_outputs=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n_rows, n_features))
    y = X @ rng.uniform(-1, 1, size=n_features)
    if n_outputs is not None:
        y = np.column_stack([y * (k + 1) for k in range(n_outputs)])
    return X, y


def _windows(X, length):
    return np.stack([X[i : i + length] for i in range(len(X) - length + 1)])


@pytest.fixture
def early_stopped():
    # Early stopping keeps the best weights in the history, warm_start lets
    # the loaded copy continue: every part of the fitted state is exercised.
    X, y = _data(n_rows=80)
    params = {"early_stopping": True, "warm_start": True, "x_scaler": StandardScaler()}
    return LSTMRegressor(**SMALL, **params).fit(X, y), X, y


def _assert_continues_identically(loaded, original, X, y):
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    original.fit(X, y)
    loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    assert loaded.loss_curve_ == original.loss_curve_
    assert loaded.best_validation_score_ == original.best_validation_score_


# -- pickles ------------------------------------------------------------------


def _pickled_modules(data):
    """Modules of the classes and functions a pickle refers to."""
    modules, strings = set(), []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif opcode.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
    return modules


def test_pickle_holds_no_torch_object(early_stopped):
    # Without torch objects the pickle cannot name a CUDA device, and skops
    # (which cannot store tensors) can store the estimator.
    estimator, X, y = early_stopped
    data = pickle.dumps(estimator)
    modules = _pickled_modules(data)
    assert "sklstm._regressor" in modules
    assert not [m for m in modules if m.split(".")[0] == "torch"]
    _assert_continues_identically(pickle.loads(data), estimator, X, y)


def test_pickle_of_the_previous_format_still_loads(early_stopped, monkeypatch):
    # Before the arrays, __getstate__ returned the __dict__ itself: the
    # module, Adam's state, the history and the generator state as torch
    # objects (on the CPU).
    estimator, X, y = early_stopped
    with monkeypatch.context() as patch:
        patch.setattr(LSTMRegressor, "__getstate__", lambda self: dict(vars(self)))
        data = pickle.dumps(estimator)
    assert "torch.nn.modules.rnn" in _pickled_modules(data)
    _assert_continues_identically(pickle.loads(data), estimator, X, y)


def test_pickle_of_sklstm_0_1_still_loads(early_stopped):
    # sklstm 0.1 pickled its __dict__ as is, before the parameters and the
    # module attributes added in 0.2 existed; rebuild such a state by hand.
    estimator, X, y = early_stopped
    state = dict(vars(copy.deepcopy(estimator)))
    for name in ("window", "exog_columns", "linear_skip", "seasonal_period"):
        del state[name]
    module = state["module_"]
    module.lstm.dropout = module.dropout
    for name in ("dropout", "centre_step", "n_exog", "linear_skip"):
        delattr(module, name)
    old = LSTMRegressor.__new__(LSTMRegressor)
    vars(old).update(state)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LSTMRegressor, "__getstate__", lambda self: dict(vars(self)))
        data = pickle.dumps(old)
    loaded = pickle.loads(data)
    assert repr(loaded) == repr(estimator)  # the new parameters at their defaults
    _assert_continues_identically(loaded, estimator, X, y)


def test_pickle_rebuilds_the_fitted_architecture(early_stopped):
    # A parameter changed after fit does not change the network that loads.
    estimator, X, _ = early_stopped
    changed = pickle.loads(pickle.dumps(estimator))
    changed.set_params(hidden_size=3, num_layers=1)
    loaded = pickle.loads(pickle.dumps(changed))
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_pickle_of_a_seasonal_model_with_a_linear_skip():
    X, y = _data(n_rows=80)
    params = dict(SMALL, sequence_length=6, window_lag=1, linear_skip=True)
    estimator = LSTMRegressor(
        **params, window_normalization="seasonal", seasonal_period=4
    ).fit(X, y)
    loaded = pickle.loads(pickle.dumps(estimator))
    assert loaded.module_.centre_step == -4
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_unfitted_estimator_pickles():
    loaded = pickle.loads(pickle.dumps(LSTMRegressor(hidden_size=3)))
    assert loaded.hidden_size == 3 and not hasattr(loaded, "module_")


# -- skops and MLflow -----------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {
            "x_scaler": RobustScaler(),
            "y_scaler": StandardScaler(),
            "random_state": np.random.RandomState(3),
            "early_stopping": True,
            "window_lag": 1,
        },
    ],
    ids=["default", "scalers-randomstate-early-stopping"],
)
def test_skops_round_trip_with_the_documented_trusted_types(tmp_path, params):
    sio = pytest.importorskip("skops.io")
    X, y = _data(n_rows=80)
    estimator = LSTMRegressor(**{**SMALL, **params}).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(estimator, path)
    assert sio.get_untrusted_types(file=path) == TRUSTED
    loaded = sio.load(path, trusted=TRUSTED)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    estimator.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_user_guide_documents_the_trusted_types():
    assert f"trusted={TRUSTED!r}".replace("'", '"') in USER_GUIDE.read_text()


def test_mlflow_default_format_logs_and_loads_bit_identical(tmp_path, monkeypatch):
    pytest.importorskip("skops")
    mlflow = pytest.importorskip("mlflow")
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")

    X, y = _data()
    estimator = LSTMRegressor(**SMALL).fit(X, y)
    # A local database and artifact folder: nothing leaves tmp_path.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment(
        "sklstm", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow_sklearn.log_model(
            estimator,
            name="model",
            skops_trusted_types=TRUSTED,
            # Given, so that MLflow does not spend seconds inferring them.
            pip_requirements=["sklstm"],
        )
    flavor = mlflow.models.get_model_info(info.model_uri).flavors["sklearn"]
    assert flavor["serialization_format"] == "skops"
    loaded = mlflow_sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    served = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(served.predict(X), estimator.predict(X))


# -- ONNX -----------------------------------------------------------------------


def _onnx_session(estimator, input_type="windows", path=None):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    target = io.BytesIO() if path is None else path
    sklstm.to_onnx(estimator, target, input_type=input_type)
    model = target.getvalue() if path is None else Path(path).read_bytes()
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return (lambda X: session.run(None, {"X": X})[0]), model


def _assert_matches_predict(run, estimator, X):
    expected = estimator.predict(X)
    got = run(X)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return np.abs(got - expected).max()


@pytest.mark.parametrize(
    "params, n_outputs",
    [
        ({}, None),
        (
            {
                "x_scaler": StandardScaler(),
                "y_scaler": StandardScaler(),
                "window_normalization": "last",
            },
            2,
        ),
        (
            {
                "x_scaler": MinMaxScaler(feature_range=(-1, 1), clip=True),
                "y_scaler": RobustScaler(),
                "window_normalization": "standard",
                "bidirectional": True,
            },
            None,
        ),
        ({"x_scaler": MaxAbsScaler(), "y_scaler": None, "num_layers": 1}, 3),
        ({"n_estimators": 3, "bidirectional": True}, 2),
    ],
    ids=[
        "minmax",
        "standard-last-multioutput",
        "clip-robust-standard",
        "maxabs",
        "ensemble",
    ],
)
def test_onnx_windows_match_predict(tmp_path, params, n_outputs):
    X, y = _data(n_rows=120, n_outputs=n_outputs)
    windows = _windows(X, SMALL["sequence_length"])
    estimator = LSTMRegressor(**{**SMALL, **params}).fit(windows[:80], y[3:83])
    run, _ = _onnx_session(estimator, path=tmp_path / "model.onnx")
    # Unseen windows (beyond the training range, for the clipping scaler)
    # and a dynamic batch size, down to one window.
    for batch in (windows, 1.5 * windows, windows[:1], windows[5:12]):
        _assert_matches_predict(run, estimator, batch)


@pytest.mark.parametrize(
    "params, n_outputs",
    [
        ({"window_lag": 1, "window_normalization": "last"}, 2),
        ({"x_scaler": None, "y_scaler": StandardScaler(), "window_lag": 3}, None),
        ({"sequence_length": 1}, None),
        (
            {
                "sequence_length": 6,
                "window_lag": 1,
                "window_normalization": "seasonal",
                "seasonal_period": 4,
                "linear_skip": True,
            },
            None,
        ),
        (
            {
                "n_estimators": 3,
                "window_lag": 1,
                "window_normalization": "last",
                "linear_skip": True,
            },
            None,
        ),
    ],
    ids=[
        "lag1-last-multioutput",
        "lag3-no-x-scaler",
        "length1",
        "forecaster",
        "ensemble-forecaster",
    ],
)
def test_onnx_series_match_predict(params, n_outputs):
    X, y = _data(n_rows=100, n_outputs=n_outputs)
    estimator = LSTMRegressor(**{**SMALL, **params}).fit(X[:70], y[:70])
    run, _ = _onnx_session(estimator, input_type="series")
    _assert_matches_predict(run, estimator, X[70:])
    # Series shorter than a window, or than window_lag: padding and the
    # all-zero window's output, as in predict (which warns about them).
    for n_rows in (1, 2, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            expected = estimator.predict(X[:n_rows])
        np.testing.assert_allclose(run(X[:n_rows]), expected, rtol=1e-5, atol=1e-5)


def test_onnx_file_is_deterministic_and_holds_no_local_paths():
    X, y = _data()
    estimator = LSTMRegressor(**SMALL, window_normalization="standard").fit(X, y)
    run, first = _onnx_session(estimator, input_type="series")
    _, second = _onnx_session(estimator, input_type="series")
    assert first == second
    assert str(Path(sklstm.__file__).parent).encode() not in first
    assert b"stack_trace" not in first
    _assert_matches_predict(run, estimator, X)


@pytest.mark.parametrize("param", ["x_scaler", "y_scaler"])
def test_onnx_refuses_other_scalers(param):
    X, y = _data()
    scaler = FunctionTransformer(np.log1p, np.expm1)
    estimator = LSTMRegressor(**SMALL, **{param: scaler}).fit(np.abs(X), np.abs(y))
    message = f"{param}=FunctionTransformer.*MinMaxScaler, StandardScaler"
    with pytest.raises(ValueError, match=message):
        sklstm.to_onnx(estimator, io.BytesIO())


def test_onnx_refuses_lag_table_models():
    X = np.random.default_rng(0).uniform(size=(40, 6))
    estimator = LSTMRegressor(3, window="columns", hidden_size=4, max_iter=1)
    estimator.fit(X, X[:, 0])
    with pytest.raises(ValueError, match="window='columns'"):
        sklstm.to_onnx(estimator, io.BytesIO())


def test_onnx_refuses_unfitted_and_foreign_estimators_and_bad_input_type():
    with pytest.raises(NotFittedError):
        sklstm.to_onnx(LSTMRegressor(), io.BytesIO())
    X, y = _data()
    pipeline = make_pipeline(StandardScaler(), LSTMRegressor(**SMALL)).fit(X, y)
    with pytest.raises(TypeError, match="x_scaler"):
        sklstm.to_onnx(pipeline, io.BytesIO())
    with pytest.raises(ValueError, match="input_type must be one of"):
        sklstm.to_onnx(pipeline[-1], io.BytesIO(), input_type="rows")
