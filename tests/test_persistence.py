"""sklstm.save/load, hostile model files, and pickle/joblib round trips."""

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)

import sklstm
from sklstm import LSTMRegressor, ModelFileError
from sklstm._persistence import _PARAMS_ADDED

SMALL = {"sequence_length": 4, "hidden_size": 6, "max_iter": 3, "random_state": 0}


def _data(n_rows=60, n_features=2, n_outputs=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n_rows, n_features))
    y = X @ rng.uniform(-1, 1, size=n_features)
    if n_outputs is not None:
        y = np.column_stack([y * (k + 1) for k in range(n_outputs)])
    return X, y


def _saved(estimator):
    buffer = io.BytesIO()
    sklstm.save(estimator, buffer)
    return buffer.getvalue()


def _load_bytes(data):
    return sklstm.load(io.BytesIO(data))


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return LSTMRegressor(**SMALL).fit(X, y), X, y


@pytest.fixture(scope="module")
def saved_bytes(fitted):
    return _saved(fitted[0])


# -- round trips ----------------------------------------------------------


def _assert_same_model(loaded, original, X):
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    assert loaded.loss_curve_ == original.loss_curve_
    assert loaded.validation_scores_ == original.validation_scores_
    assert loaded.n_iter_ == original.n_iter_ and loaded.t_ == original.t_
    assert loaded.best_loss_ == original.best_loss_
    assert loaded.n_features_in_ == original.n_features_in_
    assert loaded.n_outputs_ == original.n_outputs_
    params, expected = loaded.get_params(deep=False), original.get_params(deep=False)
    for name in ("x_scaler", "y_scaler", "random_state"):
        a, b = params.pop(name), expected.pop(name)
        if hasattr(b, "get_params"):
            assert type(a) is type(b) and a.get_params() == b.get_params()
        elif isinstance(b, np.random.RandomState):
            np.testing.assert_equal(a.get_state(), b.get_state())
        else:
            assert a == b
    assert params == expected


@pytest.mark.parametrize(
    "params, shape",
    [
        ({}, "1d"),
        ({"x_scaler": None, "y_scaler": None, "window_lag": 1}, "1d"),
        (
            {
                "x_scaler": StandardScaler(),
                "y_scaler": RobustScaler(quantile_range=(10.0, 90.0)),
            },
            "2d",
        ),
        (
            {
                "x_scaler": MaxAbsScaler(),
                "y_scaler": MinMaxScaler(feature_range=(-1, 1)),
                "early_stopping": True,
                "bidirectional": True,
                "num_layers": 2,
                "dropout": 0.2,
            },
            "1d",
        ),
        ({"window_normalization": "standard", "learning_rate": "adaptive"}, "3d"),
        ({"window_normalization": "last", "window_lag": 1, "loss": "huber"}, "2d"),
        ({"random_state": np.random.RandomState(7), "alpha": 0.1}, "1d"),
        # The forecasting recipe's fixed epochs: a non-finite parameter.
        ({"n_iter_no_change": np.inf, "max_grad_norm": 1.0}, "1d"),
        (
            {
                "n_estimators": 3,
                "num_layers": 2,
                "dropout": 0.2,
                "early_stopping": True,
                "max_grad_norm": 1.0,
            },
            "2d",
        ),
        ({"n_estimators": 2, "loss": "quantile", "quantile": 0.9}, "3d"),
        ({"linear_skip": "combined", "window_lag": 1, "seasonal_period": 3}, "1d"),
        ({"linear_skip": "combined", "window_normalization": "last"}, "3d"),
    ],
)
def test_round_trip_is_bit_identical(tmp_path, params, shape):
    X, y = _data(n_outputs=2 if shape == "2d" else None)
    if shape == "3d":
        X = np.stack([X[i : i + 4] for i in range(len(X) - 3)])
        y = y[3:]
    estimator = LSTMRegressor(**{**SMALL, **params}).fit(X, y)
    path = tmp_path / "model.sklstm"
    sklstm.save(estimator, path)
    loaded = sklstm.load(path)
    _assert_same_model(loaded, estimator, X)
    assert loaded.device_ == torch.device("cpu")


def test_round_trip_keeps_feature_names(fitted):
    X, y = _data()
    frame = pd.DataFrame(X, columns=["price", "volume"])
    estimator = LSTMRegressor(**SMALL).fit(frame, y)
    loaded = _load_bytes(_saved(estimator))
    assert list(loaded.feature_names_in_) == ["price", "volume"]
    np.testing.assert_array_equal(loaded.predict(frame), estimator.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"price": "other"}))


def test_saving_twice_gives_the_same_bytes(fitted):
    assert _saved(fitted[0]) == _saved(fitted[0])


def test_loaded_model_continues_partial_fit_exactly():
    X, y = _data()
    original = LSTMRegressor(**SMALL).partial_fit(X, y)
    loaded = _load_bytes(_saved(original))
    original.partial_fit(X, y)
    loaded.partial_fit(X, y)
    _assert_same_model(loaded, original, X)


def test_loaded_model_continues_warm_start_fit_exactly():
    # Early stopping keeps the best weights in the history: they must survive.
    X, y = _data(n_rows=80)
    original = LSTMRegressor(**SMALL, early_stopping=True, warm_start=True).fit(X, y)
    loaded = _load_bytes(_saved(original))
    original.fit(X, y)
    loaded.fit(X, y)
    _assert_same_model(loaded, original, X)
    assert loaded.best_validation_score_ == original.best_validation_score_


def test_a_cuda_file_loads_on_cpu(fitted, monkeypatch):
    # Record every storage as living on "cuda:0", as a file written on a GPU
    # machine by torch.save would; loading must map it to the CPU without
    # asking torch for CUDA.
    estimator, X, _ = fitted
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        data = _saved(estimator)
    tensors = zipfile.ZipFile(io.BytesIO(data)).read("tensors.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(io.BytesIO(tensors), weights_only=True)
    loaded = _load_bytes(data)
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_a_model_trained_for_cuda_loads_with_cpu_tensors(fitted):
    estimator, X, y = fitted
    cuda_like = clone(estimator).set_params(device="cuda")
    params = estimator.get_params(deep=False)
    vars(cuda_like).update(
        {k: v for k, v in vars(estimator).items() if k not in params}
    )
    cuda_like.device_ = torch.device("cuda")
    manifest = json.loads(
        zipfile.ZipFile(io.BytesIO(_saved(cuda_like))).read("sklstm.json")
    )
    assert manifest["fitted"]["device"] == "cuda"
    loaded = _load_bytes(_saved(cuda_like))
    assert loaded.device_ == torch.device("cpu")
    assert loaded.get_params()["device"] == "cuda"
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cpu'"):
            loaded.partial_fit(X, y)


# -- what save refuses ----------------------------------------------------


@pytest.mark.parametrize(
    "scaler",
    [
        FunctionTransformer(np.log1p, np.expm1),
        type("MyScaler", (MinMaxScaler,), {})(),
    ],
    ids=["FunctionTransformer", "MinMaxScaler-subclass"],
)
@pytest.mark.parametrize("param", ["x_scaler", "y_scaler"])
def test_save_refuses_other_transformers(tmp_path, scaler, param):
    X, y = _data()
    estimator = LSTMRegressor(**SMALL, **{param: scaler}).fit(np.abs(X), np.abs(y))
    path = tmp_path / "model.sklstm"
    with pytest.raises(TypeError, match="pickle or joblib.*skops"):
        sklstm.save(estimator, path)
    assert not path.exists()


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    with pytest.raises(NotFittedError):
        sklstm.save(LSTMRegressor(), tmp_path / "a")
    with pytest.raises(TypeError, match="LSTMRegressor"):
        sklstm.save(StandardScaler().fit([[0.0], [1.0]]), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_unknown_fitted_attributes(fitted):
    estimator = pickle.loads(pickle.dumps(fitted[0]))
    estimator.extra_state_ = object()
    with pytest.raises(TypeError, match="extra_state_"):
        _saved(estimator)


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        sklstm.load(tmp_path / "nope.sklstm")


# -- hostile files ----------------------------------------------------------


def _entries(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _tamper(data, manifest=None, tensors=None):
    """A valid zip (correct CRCs) whose manifest and/or tensors were edited."""
    entries = _entries(data)
    if manifest is not None:
        content = json.loads(entries["sklstm.json"])
        manifest(content)
        entries["sklstm.json"] = json.dumps(content).encode()
    if tensors is not None:
        content = torch.load(io.BytesIO(entries["tensors.pt"]), weights_only=True)
        tensors(content)
        buffer = io.BytesIO()
        torch.save(content, buffer)
        entries["tensors.pt"] = buffer.getvalue()
    return _zip(entries)


class _Exploit:
    """Creates a marker file when unpickled: proves whether a load ran code."""

    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_newer_format_version_asks_to_upgrade(saved_bytes):
    data = _tamper(saved_bytes, manifest=lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="format version 99.*Upgrade sklstm"):
        _load_bytes(data)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m.update(format_version="1"), "format_version must be int"),
        (lambda m: m.update(format_version=0), "format_version=0"),
        (lambda m: m.update(format="keras"), "format"),
        (lambda m: m.pop("history"), "lacks \\['history'\\]"),
        (lambda m: m.update(extra=1), "unexpected entries \\['extra'\\]"),
        (lambda m: m["params"].update(hidden_size="6"), "hidden_size"),
        (lambda m: m["params"].update(hidden_size=7), "module.lstm.weight_ih_l0"),
        (lambda m: m["params"].update(hidden_size=0), "hidden_size"),
        (lambda m: m["params"].update(n_neurons=3), "n_neurons"),
        (lambda m: m["params"].pop("loss"), "lacks \\['loss'\\]"),
        (
            lambda m: m["params"].update(loss={"__reduce__": "os.system"}),
            "unknown value",
        ),
        (
            lambda m: m["params"].update(
                x_scaler={"estimator": "posix.system", "params": {}}
            ),
            "only \\['MaxAbsScaler'",
        ),
        (
            lambda m: m["params"].update(
                window_normalization="standard", target_feature=5
            ),
            "target_feature=5",
        ),
        (
            lambda m: m["fitted"].update(n_features_in_="2"),
            "n_features_in_ must be int",
        ),
        (lambda m: m["fitted"].update(n_features_in_=3), "expected torch.float32"),
        (lambda m: m["fitted"].update(n_outputs_=0), "n_outputs_=0"),
        (lambda m: m["fitted"].update(y_1d="yes"), "y_1d must be bool"),
        (lambda m: m["fitted"].update(feature_names_in_=["a"]), "feature_names_in_"),
        (lambda m: m["history"].update(loss_curve="0.5"), "loss_curve"),
        (lambda m: m["history"].update(loss_curve=[]), "loss_curve is empty"),
        (lambda m: m["history"].update(n_iter=-1), "n_iter is negative"),
        (lambda m: m["history"].update(n_iter=True), "n_iter"),
        (lambda m: m["history"].update(learning_rate=-1.0), "learning_rate"),
        (lambda m: m["history"].update(best_state=True), "best_state"),
        (lambda m: m["optimizer_param_groups"].pop(), "optimizer groups"),
        (lambda m: m["optimizer_param_groups"][0].update(params=[0]), "params"),
        (lambda m: m["optimizer_param_groups"][0].update(lr="0.1"), "lr"),
        (lambda m: m["x_scaler_"].update(estimator="StandardScaler"), "x_scaler_"),
        (lambda m: m["x_scaler_"]["attributes"].pop("scale_"), "scale_"),
        (
            lambda m: m["x_scaler_"]["attributes"]["scale_"].update(shape=[1, 2]),
            "scale_",
        ),
        (
            lambda m: m["x_scaler_"]["attributes"]["scale_"].update(ndarray=["1", "2"]),
            "not float64",
        ),
        (
            lambda m: m["x_scaler_"]["attributes"]["scale_"].update(dtype="object"),
            "dtype 'object'",
        ),
        (
            lambda m: m["y_scaler_"]["params"].update(feature_range=[0, 1]),
            "feature_range",
        ),
        (lambda m: m.update(y_scaler_=[1, 2]), "y_scaler_ must be dict"),
    ],
)
def test_tampered_manifest_raises(saved_bytes, edit, match):
    with pytest.raises(ModelFileError, match=match):
        _load_bytes(_tamper(saved_bytes, manifest=edit))


def _set(name, value):
    return lambda tensors: tensors.__setitem__(name, value)


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("module.head.bias", torch.zeros(2)), "module.head.bias"),
        (_set("module.head.bias", torch.zeros(1, dtype=torch.float64)), "float64"),
        (_set("module.head.bias", torch.tensor([float("nan")])), "non-finite"),
        (
            lambda t: t.pop("module.head.weight"),
            "lacks the tensors \\['module.head.weight'\\]",
        ),
        (
            _set("module.extra", torch.zeros(1)),
            "unexpected tensors \\['module.extra'\\]",
        ),
        (lambda t: t.pop("optimizer.0.exp_avg"), "optimizer.0.exp_avg"),
        (_set("optimizer.0.exp_avg", torch.zeros(3)), "optimizer.0.exp_avg"),
        (_set("optimizer.99.step", torch.zeros(())), "optimizer.99.step"),
        (_set("rng_state", torch.zeros(3, dtype=torch.uint8)), "rng_state"),
        (_set("rng_state", torch.zeros(5056, dtype=torch.uint8)), "rng_state"),
        (_set("module.head.bias", torch.nn.Parameter(torch.zeros(1))), "Parameter"),
        (_set(3, torch.zeros(1)), "map names to tensors"),
        (_set("note", "hello"), "map names to tensors"),
        (lambda t: t.clear(), "lacks the tensors"),
    ],
)
def test_tampered_tensors_raise(saved_bytes, edit, match):
    with pytest.raises(ModelFileError, match=match):
        _load_bytes(_tamper(saved_bytes, tensors=edit))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_planted_pickle_payloads_are_never_run(saved_bytes, tmp_path):
    _Exploit.marker = tmp_path / "pwned"
    planted = pickle.dumps(_Exploit())
    buffer = io.BytesIO()
    torch.save({"module.head.bias": _Exploit()}, buffer)
    entries = _entries(saved_bytes)
    hostile = {
        "pickle instead of tensors.pt": {**entries, "tensors.pt": planted},
        "torch.save of an object as tensors.pt": {
            **entries,
            "tensors.pt": buffer.getvalue(),
        },
        "pickle instead of sklstm.json": {**entries, "sklstm.json": planted},
        "pickle as an extra entry": {**entries, "data.pkl": planted},
        "a bare pickle file": None,
    }
    for name, content in hostile.items():
        data = planted if content is None else _zip(content)
        with pytest.raises(ModelFileError):
            _load_bytes(data)
        assert not _Exploit.marker.exists(), name


@pytest.mark.parametrize(
    "entries, match",
    [
        (lambda e: e.pop("tensors.pt"), "expected exactly"),
        (lambda e: e.pop("sklstm.json"), "expected exactly"),
        (lambda e: e.update({"readme.txt": b"hi"}), "readme.txt"),
        (lambda e: e.update({"sklstm.json": b"\xff\xfe"}), "not JSON"),
        (lambda e: e.update({"sklstm.json": b"[" * 100000}), "not JSON"),
        (lambda e: e.update({"sklstm.json": b'{"a": 1, "a": 2}'}), "duplicate keys"),
        (lambda e: e.update({"sklstm.json": b"[]"}), "must be dict"),
        (lambda e: e.update({"tensors.pt": b""}), "tensors.pt"),
    ],
)
def test_wrong_entries_raise(saved_bytes, entries, match):
    content = _entries(saved_bytes)
    entries(content)
    with pytest.raises(ModelFileError, match=match):
        _load_bytes(_zip(content))


def test_compressed_entries_are_refused(saved_bytes):
    # Stored entries cannot expand: this rules out zip bombs.
    data = _zip(_entries(saved_bytes), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="compressed"):
        _load_bytes(data)


@pytest.mark.parametrize("data", [b"", b"PK", b"not a model", np.arange(99).tobytes()])
def test_non_zip_files_raise(data):
    with pytest.raises(ModelFileError, match="Not a readable sklstm model file"):
        _load_bytes(data)


def test_truncated_files_raise(saved_bytes):
    for length in np.linspace(0, len(saved_bytes) - 1, 40).astype(int):
        with pytest.raises(ModelFileError):
            _load_bytes(saved_bytes[:length])


def test_flipped_bytes_raise_or_change_nothing(fitted, saved_bytes):
    # A flip in the data is caught by the zip CRCs or the validation; a few
    # header fields (timestamps, attributes) are unused: the model is then
    # unchanged. Never a different model, never another exception.
    estimator, X, _ = fitted
    expected = estimator.predict(X)
    rng = np.random.RandomState(0)
    positions = np.concatenate(
        [
            rng.choice(len(saved_bytes), 150, replace=False),
            np.arange(-120, 0) + len(saved_bytes),
        ]
    )
    outcomes = {"raised": 0, "unchanged": 0}
    for position in positions:
        data = bytearray(saved_bytes)
        data[position] ^= 1 << rng.randint(8)
        try:
            loaded = _load_bytes(bytes(data))
        except ModelFileError:
            outcomes["raised"] += 1
            continue
        np.testing.assert_array_equal(loaded.predict(X), expected)
        outcomes["unchanged"] += 1
    assert outcomes["raised"] > outcomes["unchanged"]


# -- pickle and joblib ------------------------------------------------------


def test_pickle_round_trip_continues_training():
    X, y = _data()
    original = LSTMRegressor(**SMALL).partial_fit(X, y)
    loaded = pickle.loads(pickle.dumps(original))
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    original.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))


@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_joblib_round_trip(tmp_path, mmap_mode):
    X, y = _data()
    original = LSTMRegressor(**SMALL, x_scaler=StandardScaler()).partial_fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(original, path)
    loaded = joblib.load(path, mmap_mode=mmap_mode)
    if mmap_mode is not None:
        assert isinstance(loaded.x_scaler_.scale_, np.memmap)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    original.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))


def test_version_1_files_load_with_the_defaults_of_newer_parameters(
    saved_bytes, fitted
):
    def as_version_1(manifest):
        manifest.update(format_version=1)
        for name in _PARAMS_ADDED:
            manifest["params"].pop(name)

    loaded = _load_bytes(_tamper(saved_bytes, manifest=as_version_1))
    assert loaded.get_params() == LSTMRegressor(**SMALL).get_params()
    estimator, X, _ = fitted
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    # A current file must hold every parameter.
    data = _tamper(saved_bytes, manifest=lambda m: m["params"].pop("seasonal_period"))
    with pytest.raises(ModelFileError, match="lacks \\['seasonal_period'\\]"):
        _load_bytes(data)
