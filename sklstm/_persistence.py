"""Save and load a fitted LSTMRegressor in a file whose loading runs no code.

A model file is a zip archive with two uncompressed entries:

``sklstm.json``
    The format version, the library versions, the hyperparameters, the
    fitted attributes, the training history, Adam's hyperparameters and the
    scalers' class names, parameters and fitted arrays.
``tensors.pt``
    One flat ``{name: tensor}`` dict written by :func:`torch.save`: the
    weights, the best weights of early stopping, Adam's moments, the
    random number generator's state and, for a panel model with a linear
    skip, each series' correction of it.

Loading parses the JSON and reads the tensors with
``torch.load(weights_only=True, map_location="cpu")``, whose unpickler only
rebuilds tensors and plain containers, so a planted pickle payload is refused
instead of run. Every value is then checked against a model rebuilt from the
hyperparameters (names, types, dtypes, shapes, finiteness) before it is used;
any mismatch raises :class:`ModelFileError`, a ``ValueError``.
"""

import dataclasses
import io
import json
import math
import types
import typing
import zipfile

import numpy as np
import sklearn
import torch
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

from ._regressor import LSTMRegressor
from ._training import History

FORMAT = "sklstm.LSTMRegressor"
FORMAT_VERSION = 4
# Hyperparameters added after format version 1, with the version that added
# them: an older file lacks them and loads with their defaults.
_PARAMS_ADDED = {
    "seasonal_period": 2,
    "linear_skip": 2,
    "window": 2,
    "exog_columns": 2,
    "n_estimators": 3,
    "quantile": 3,
    "series_column": 3,
    "series_scaling": 3,
    "series_weighting": 3,
    "unseen_series": 3,
}
_MANIFEST = "sklstm.json"
_TENSORS = "tensors.pt"
_SERIES_SKIP = "series_skip"
_ENTRIES = (_MANIFEST, _TENSORS)
# A fixed timestamp, so that the same model always gives the same bytes.
_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Transformers whose fitted state is plain arrays and numbers, rebuilt by name.
_SCALERS = {
    cls.__name__: cls
    for cls in (MinMaxScaler, StandardScaler, RobustScaler, MaxAbsScaler)
}
_ARRAY_DTYPES = {"float64", "float32", "int64", "int32", "bool", "str"}
_FITTED = {
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "device_",
    "module_",
    "x_scaler_",
    "y_scaler_",
    "_y_1d",
    "_history",
    "_rng_state",
    "_optimizer_state",
    "series_",
    "series_x_scalers_",
    "series_y_scalers_",
    "series_skip_coef_",
}
_PICKLE_HINT = (
    "Use pickle or joblib for such models (only load those from sources you "
    "trust), or skops.io."
)


class ModelFileError(ValueError):
    """Raised when a file is not a valid sklstm model file.

    :func:`load` raises it for a file that is truncated, corrupted, tampered
    with, written by a newer sklstm, or not a model file at all, before
    anything in the file is used. It is a :class:`ValueError`, so code that
    handles bad input generally catches it too.

    See Also
    --------
    load : Load a model saved with :func:`save`.

    Examples
    --------
    >>> import io
    >>> import sklstm
    >>> try:
    ...     sklstm.load(io.BytesIO(b"not a model"))
    ... except sklstm.ModelFileError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    ModelFileError True
    """


def save(estimator, path):
    """Save a fitted LSTMRegressor to one file that loads without running code.

    The file holds the hyperparameters, the fitted scalers, the weights, the
    training history and the optimizer and random state, so that the loaded
    model predicts bit for bit the same and continues training (``partial_fit``
    or ``warm_start=True``) exactly as the original would. Tensors are stored
    on the CPU, so a model trained on CUDA loads on any machine.

    Parameters
    ----------
    estimator : LSTMRegressor
        A fitted estimator. Its ``x_scaler``/``y_scaler`` must be None,
        ``"minmax"`` or one of MinMaxScaler, StandardScaler, RobustScaler and
        MaxAbsScaler; other transformers raise a TypeError (use pickle,
        joblib or skops for them).

    path : str, path-like or binary file object
        Where to write. An existing file is replaced.

    See Also
    --------
    load : Load a model saved by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import sklstm
    >>> X = np.linspace(0, 1, 60).reshape(-1, 1)
    >>> reg = sklstm.LSTMRegressor(sequence_length=3, hidden_size=4, max_iter=2,
    ...                            random_state=0).fit(X, X.ravel())
    >>> path = os.path.join(tempfile.mkdtemp(), "model.sklstm")
    >>> sklstm.save(reg, path)
    >>> loaded = sklstm.load(path)
    >>> bool((loaded.predict(X) == reg.predict(X)).all())
    True
    """
    manifest, tensors = _serialize(estimator)
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    # Everything is encoded before the file is opened, so that an error
    # leaves no half-written file behind.
    payloads = {
        _MANIFEST: json.dumps(manifest, indent=1).encode("utf-8"),
        _TENSORS: buffer.getvalue(),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in payloads.items():
            archive.writestr(zipfile.ZipInfo(name, _DATE_TIME), data)


def load(path):
    """Load a model written by :func:`save`, without running any code from it.

    The file is validated entry by entry; tensors are mapped to the CPU, so a
    model saved from a CUDA machine loads on any machine (its ``device``
    parameter is kept: set it to ``"cpu"`` before training it further where
    there is no GPU).

    Parameters
    ----------
    path : str, path-like or binary file object
        The file to read.

    Returns
    -------
    estimator : LSTMRegressor
        The fitted estimator, on the CPU.

    Raises
    ------
    ModelFileError
        (a ValueError) if the file is not a valid sklstm model file: written
        by a newer, unknown format version, truncated, corrupted or tampered
        with.

    See Also
    --------
    save : Save a fitted estimator.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import sklstm
    >>> X = np.linspace(0, 1, 60).reshape(-1, 1)
    >>> reg = sklstm.LSTMRegressor(sequence_length=3, hidden_size=4, max_iter=2,
    ...                            random_state=0).fit(X, X.ravel())
    >>> buffer = io.BytesIO()
    >>> sklstm.save(reg, buffer)
    >>> sklstm.load(buffer).n_iter_
    2
    """
    if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__"):
        with open(path, "rb") as file:
            return _load_file(file)
    return _load_file(path)


# -- saving -----------------------------------------------------------------


def _serialize(estimator):
    if type(estimator) is not LSTMRegressor:
        raise TypeError(
            f"sklstm.save stores LSTMRegressor instances, got "
            f"{type(estimator).__name__}. {_PICKLE_HINT}"
        )
    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    unknown = sorted(set(vars(estimator)) - set(params) - _FITTED)
    if unknown:
        raise TypeError(
            f"sklstm.save does not know how to store the attributes {unknown} of "
            f"this estimator. {_PICKLE_HINT}"
        )
    history = dataclasses.asdict(estimator._history)
    best_state = history.pop("best_state")
    history["best_state"] = best_state is not None
    names = getattr(estimator, "feature_names_in_", None)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "params": {name: _encode(value, name) for name, value in params.items()},
        "fitted": {
            "n_features_in_": int(estimator.n_features_in_),
            "feature_names_in_": None if names is None else [str(n) for n in names],
            "n_outputs_": int(estimator.n_outputs_),
            "y_1d": bool(estimator._y_1d),
            "device": str(estimator.device_),
        },
        "history": {name: _encode(value, name) for name, value in history.items()},
        "optimizer_param_groups": [
            {key: _encode(value, key) for key, value in group.items()}
            for group in estimator._optimizer_state["param_groups"]
        ],
        "x_scaler_": _encode_fitted_scaler(estimator.x_scaler_, "x_scaler_"),
        "y_scaler_": _encode_fitted_scaler(estimator.y_scaler_, "y_scaler_"),
    }
    if hasattr(estimator, "series_"):
        # Only in files of models fitted on many series (format version 3).
        manifest["series"] = _encode_series(estimator)
    tensors = {"rng_state": estimator._rng_state}
    if hasattr(estimator, "series_skip_coef_"):
        # Only in files of panel models with a linear skip (format version 4).
        tensors[_SERIES_SKIP] = torch.from_numpy(estimator.series_skip_coef_)
    tensors.update(_prefixed("module.", estimator.module_.state_dict()))
    if best_state is not None:
        tensors.update(_prefixed("best_state.", best_state))
    for index, state in estimator._optimizer_state["state"].items():
        tensors.update(_prefixed(f"optimizer.{index}.", state))
    # Detached CPU copies: the file never records a CUDA location.
    return manifest, {k: v.detach().cpu().clone() for k, v in tensors.items()}


def _versions():
    return {
        "sklstm": _sklstm_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def _sklstm_version():
    # Imported late: the package's __init__ imports this module first.
    from . import __version__

    return __version__


def _prefixed(prefix, tensors):
    return {prefix + str(name): tensor for name, tensor in tensors.items()}


def _encode(value, where):
    """JSON form of a parameter or attribute; containers other than lists are tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, list):
        return [_encode(item, where) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(item, where) for item in value]}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, np.random.RandomState):
        _, keys, pos, has_gauss, cached = value.get_state(legacy=True)
        return {
            "random_state": {
                "keys": keys.tolist(),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            }
        }
    if (
        type(value).__name__ in _SCALERS
        and type(value) is _SCALERS[type(value).__name__]
    ):
        params = value.get_params(deep=False)
        return {
            "estimator": type(value).__name__,
            "params": {k: _encode(v, f"{where}.{k}") for k, v in params.items()},
        }
    raise TypeError(
        f"sklstm.save cannot store {where}={value!r}: only None, numbers, strings, "
        f"arrays, RandomState and the scalers {sorted(_SCALERS)} are supported. "
        f"{_PICKLE_HINT}"
    )


def _encode_array(array, where):
    if array.dtype == object and all(isinstance(item, str) for item in array.flat):
        dtype = "str"
    elif array.dtype.name in _ARRAY_DTYPES:
        dtype = array.dtype.name
    else:
        raise TypeError(
            f"sklstm.save cannot store {where}: arrays of dtype {array.dtype} are "
            f"not supported. {_PICKLE_HINT}"
        )
    return {
        "ndarray": array.ravel().tolist(),
        "dtype": dtype,
        "shape": list(array.shape),
    }


def _encode_fitted_scaler(scaler, where):
    if scaler is None:
        return None
    encoded = _encode(scaler, where)
    params = scaler.get_params(deep=False)
    encoded["attributes"] = {
        name: _encode(value, f"{where}.{name}")
        for name, value in vars(scaler).items()
        if name not in params
    }
    return encoded


def _encode_series(estimator):
    # numpy scalars (ids read from an object array) as the Python values
    # they equal, which JSON stores.
    ids = [v.item() if isinstance(v, np.generic) else v for v in estimator.series_]
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(
                f"sklstm.save stores series ids that are str, int or float; got "
                f"{value!r} ({type(value).__name__}). {_PICKLE_HINT}"
            )

    def scalers(fitted, where):
        if fitted is None:
            return None
        return [_encode_fitted_scaler(s, f"{where}[{i}]") for i, s in enumerate(fitted)]

    return {
        "ids": ids,
        "x_scalers": scalers(estimator.series_x_scalers_, "series_x_scalers_"),
        "y_scalers": scalers(estimator.series_y_scalers_, "series_y_scalers_"),
    }


# -- loading ----------------------------------------------------------------


def _load_file(file):
    manifest_bytes, tensor_bytes = _read_entries(file)
    manifest = _parse_manifest(manifest_bytes)
    tensors = _read_tensors(tensor_bytes)
    return _rebuild(manifest, tensors)


def _read_entries(file):
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if sorted(names) != sorted(_ENTRIES):
                raise ModelFileError(
                    f"Not an sklstm model file: it holds the entries {names}, "
                    f"expected exactly {list(_ENTRIES)}."
                )
            for info in infos:
                # Stored entries cannot expand beyond the file's own size.
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ModelFileError(
                        f"Invalid sklstm model file: entry {info.filename!r} is "
                        "compressed; sklstm writes uncompressed entries."
                    )
            return tuple(archive.read(name) for name in _ENTRIES)
    except ModelFileError:
        raise
    except Exception as exc:  # any failure to parse the archive means a bad file
        raise ModelFileError(
            f"Not a readable sklstm model file (truncated or corrupted?): {exc}"
        ) from exc


def _parse_manifest(data):
    try:
        manifest = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(
            f"Invalid sklstm model file: {_MANIFEST} is not JSON ({exc})."
        ) from exc
    _expect(manifest, dict, _MANIFEST)
    if manifest.get("format") != FORMAT:
        raise ModelFileError(
            f"Not an sklstm model file: {_MANIFEST} names the format "
            f"{manifest.get('format')!r}, expected {FORMAT!r}."
        )
    version = manifest.get("format_version")
    _expect(version, int, "format_version")
    if version > FORMAT_VERSION:
        written_by = manifest.get("versions", {})
        written_by = written_by.get("sklstm") if isinstance(written_by, dict) else None
        raise ModelFileError(
            f"This model file uses format version {version} (written by sklstm "
            f"{written_by}), but this sklstm {_sklstm_version()} reads format "
            f"versions up to {FORMAT_VERSION}. Upgrade sklstm to load it."
        )
    if version < 1:
        raise ModelFileError(f"Invalid sklstm model file: format_version={version}.")
    expected = {
        "format",
        "format_version",
        "versions",
        "params",
        "fitted",
        "history",
        "optimizer_param_groups",
        "x_scaler_",
        "y_scaler_",
    }
    if version >= 3 and "series" in manifest:
        expected.add("series")
    _expect_keys(manifest, expected, _MANIFEST)
    return manifest


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ModelFileError(f"Invalid sklstm model file: duplicate keys in {keys}.")
    return dict(pairs)


def _read_tensors(data):
    try:
        tensors = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # weights_only refuses anything but tensors and containers
        raise ModelFileError(
            f"Invalid sklstm model file: {_TENSORS} does not hold plain tensors ({exc})."
        ) from exc
    _expect(tensors, dict, _TENSORS)
    for name, tensor in tensors.items():
        if not isinstance(name, str) or type(tensor) is not torch.Tensor:
            raise ModelFileError(
                f"Invalid sklstm model file: {_TENSORS} must map names to tensors; "
                f"found {name!r}: {type(tensor).__name__}."
            )
        if tensor.layout != torch.strided or tensor.is_quantized:
            raise ModelFileError(
                f"Invalid sklstm model file: tensor {name!r} is not dense."
            )
    return tensors


def _rebuild(manifest, tensors):
    params = _decode_params(manifest["params"], manifest["format_version"])
    estimator = LSTMRegressor(**params)
    try:
        estimator._validate_params()
        estimator._check_window_params()
    except ValueError as exc:
        raise ModelFileError(f"Invalid sklstm model file: {exc}") from exc

    fitted = manifest["fitted"]
    _expect(fitted, dict, "fitted")
    _expect_keys(
        fitted,
        {"n_features_in_", "feature_names_in_", "n_outputs_", "y_1d", "device"},
        "fitted",
    )
    n_features = _expect_count(fitted["n_features_in_"], "n_features_in_")
    panel = "series" in manifest
    if panel != (estimator.series_column is not None):
        raise ModelFileError(
            "Invalid sklstm model file: series_column and the fitted series disagree."
        )
    # The network reads X's columns but the series id column.
    n_values = n_features - 1 if panel else n_features
    if n_values < 1:
        raise ModelFileError("Invalid sklstm model file: no column besides the ids.")
    n_outputs = _expect_count(fitted["n_outputs_"], "n_outputs_")
    _expect(fitted["y_1d"], bool, "y_1d")
    _expect(fitted["device"], str, "device")
    if fitted["y_1d"] and n_outputs != 1:
        raise ModelFileError("Invalid sklstm model file: y_1d with several outputs.")
    try:
        n_variables = estimator._window_features(n_values)[0]
    except ValueError as exc:
        raise ModelFileError(f"Invalid sklstm model file: {exc}") from exc
    if (
        estimator.window_normalization is not None
        and estimator.target_feature >= n_variables
    ):
        raise ModelFileError(
            f"Invalid sklstm model file: target_feature={estimator.target_feature} "
            f"with {n_variables} features."
        )
    names = fitted["feature_names_in_"]
    if names is not None:
        _expect(names, list, "feature_names_in_")
        if len(names) != n_features or not all(isinstance(n, str) for n in names):
            raise ModelFileError(
                "Invalid sklstm model file: feature_names_in_ must be "
                f"{n_features} strings."
            )

    history, has_best_state = _decode_history(manifest["history"])
    # Shapes come from a weightless ("meta") module, so that a tampered
    # hidden_size cannot make loading allocate more than the file holds.
    with torch.device("meta"):
        template = estimator._build_module(n_values, n_outputs).state_dict()
    expected = {"rng_state": torch.get_rng_state()}
    expected.update(_prefixed("module.", template))
    if has_best_state:
        expected.update(_prefixed("best_state.", template))
    skips = tensors.pop(_SERIES_SKIP, None)
    _check_tensors(tensors, expected, exclude="optimizer.")

    module = estimator._build_module(n_values, n_outputs)
    optimizer_state = _decode_optimizer(
        estimator, module, manifest["optimizer_param_groups"], tensors, history
    )
    module.load_state_dict(_unprefixed("module.", tensors))
    if has_best_state:
        history.best_state = _unprefixed("best_state.", tensors)
    rng_state = tensors["rng_state"]
    try:  # a private generator checks the state without touching torch's own
        torch.Generator().set_state(rng_state)
    except RuntimeError as exc:
        raise ModelFileError(f"Invalid sklstm model file: rng_state ({exc}).") from exc

    estimator.n_features_in_ = n_features
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.n_outputs_ = n_outputs
    estimator._y_1d = fitted["y_1d"]
    estimator.module_ = module
    estimator.device_ = torch.device("cpu")
    estimator.x_scaler_ = _decode_fitted_scaler(
        manifest["x_scaler_"], n_values, "x_scaler_"
    )
    if panel:
        _decode_series(estimator, manifest["series"], n_values, n_outputs)
    if skips is not None:
        _decode_series_skip(estimator, skips, manifest["format_version"], template)
    estimator.y_scaler_ = _decode_fitted_scaler(
        manifest["y_scaler_"], n_outputs, "y_scaler_"
    )
    estimator._history = history
    estimator._rng_state = rng_state
    estimator._optimizer_state = optimizer_state
    return estimator


def _decode_series_skip(estimator, skips, version, template):
    if version < 4 or not hasattr(estimator, "series_") or not estimator.linear_skip:
        raise ModelFileError(
            f"Invalid sklstm model file: tensor {_SERIES_SKIP!r} belongs only to "
            "models fitted on many series with a linear skip (format version 4)."
        )
    n_outputs, n_inputs = template["skip_weight"].shape
    reference = torch.empty(
        (len(estimator.series_), n_inputs + 1, n_outputs), dtype=torch.float64
    )
    _check_tensors({_SERIES_SKIP: skips}, {_SERIES_SKIP: reference})
    estimator.series_skip_coef_ = skips.numpy()


def _decode_series(estimator, encoded, n_values, n_outputs):
    _expect(encoded, dict, "series")
    _expect_keys(encoded, {"ids", "x_scalers", "y_scalers"}, "series")
    ids = encoded["ids"]
    _expect(ids, list, "series.ids")
    if not ids or not all(
        isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in ids
    ):
        raise ModelFileError(
            "Invalid sklstm model file: series.ids must be a list of str, int or float."
        )
    if len(set(ids)) != len(ids):
        raise ModelFileError("Invalid sklstm model file: repeated series ids.")
    series = np.empty(len(ids), dtype=object)
    series[:] = ids
    estimator.series_ = series
    for key, width in (("x_scalers", n_values), ("y_scalers", n_outputs)):
        scalers = encoded[key]
        if scalers is not None:
            _expect(scalers, list, f"series.{key}")
            if len(scalers) != len(ids):
                raise ModelFileError(
                    f"Invalid sklstm model file: series.{key} holds {len(scalers)} "
                    f"scalers for {len(ids)} series."
                )
            scalers = [
                _decode_fitted_scaler(s, width, f"series.{key}[{i}]")
                for i, s in enumerate(scalers)
            ]
        setattr(estimator, f"series_{key[0]}_scalers_", scalers)


def _decode_params(encoded, version):
    _expect(encoded, dict, "params")
    defaults = LSTMRegressor().get_params(deep=False)
    newer = {name for name, added in _PARAMS_ADDED.items() if added > version}
    _expect_keys(encoded, set(defaults) - newer, "params")
    params = {name: _decode(value, f"params.{name}") for name, value in encoded.items()}
    return {**{name: defaults[name] for name in newer}, **params}


def _decode_history(encoded):
    _expect(encoded, dict, "history")
    # Resolved hints, so string annotations in _training would work as well.
    fields = typing.get_type_hints(History)
    _expect_keys(encoded, set(fields), "history")
    has_best_state = encoded["best_state"]
    _expect(has_best_state, bool, "history.best_state")
    values = {}
    for name, annotation in fields.items():
        if name == "best_state":
            continue
        value = _decode(encoded[name], f"history.{name}")
        _check_annotation(value, annotation, f"history.{name}")
        values[name] = value
    if not values["loss_curve"]:
        raise ModelFileError("Invalid sklstm model file: history.loss_curve is empty.")
    if not 0 < values["learning_rate"] < math.inf:
        raise ModelFileError("Invalid sklstm model file: history.learning_rate.")
    return History(**values), has_best_state


def _check_annotation(value, annotation, where):
    """Check ``value`` against a History field's type (``float | None``, ``list``)."""
    allowed = (
        annotation.__args__
        if isinstance(annotation, types.UnionType)
        else (annotation,)
    )
    allowed = tuple(type(None) if a is None else a for a in allowed)
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, bool) and bool not in allowed:
        raise ModelFileError(
            f"Invalid sklstm model file: {where} must not be a boolean."
        )
    if not isinstance(value, allowed):
        raise ModelFileError(
            f"Invalid sklstm model file: {where} has type {type(value).__name__}."
        )
    if isinstance(value, list) and not all(_is_number(item) for item in value):
        raise ModelFileError(f"Invalid sklstm model file: {where} must hold numbers.")
    if isinstance(value, int) and value < 0:
        raise ModelFileError(f"Invalid sklstm model file: {where} is negative.")


def _decode_optimizer(estimator, module, encoded_groups, tensors, history):
    # The expected state comes from one step of a fresh optimizer (zero
    # gradients) on the model about to receive the file's weights.
    template = estimator._optimizer(module, history.learning_rate)
    for parameter in module.parameters():
        parameter.grad = torch.zeros_like(parameter)
    template.step()
    template = template.state_dict()
    module.zero_grad(set_to_none=True)

    _expect(encoded_groups, list, "optimizer_param_groups")
    if len(encoded_groups) != len(template["param_groups"]):
        raise ModelFileError(
            "Invalid sklstm model file: wrong number of optimizer groups."
        )
    groups = []
    for index, (encoded, expected) in enumerate(
        zip(encoded_groups, template["param_groups"])
    ):
        where = f"optimizer_param_groups[{index}]"
        _expect(encoded, dict, where)
        _expect_keys(encoded, set(expected), where)
        group = {
            key: _decode(value, f"{where}.{key}") for key, value in encoded.items()
        }
        for key, value in group.items():
            if not _same_kind(value, expected[key]):
                raise ModelFileError(
                    f"Invalid sklstm model file: {where}.{key}={value!r}."
                )
        if group["params"] != expected["params"]:
            raise ModelFileError(f"Invalid sklstm model file: {where}.params.")
        groups.append(group)

    expected_tensors = {
        f"optimizer.{index}.{name}": tensor
        for index, state in template["state"].items()
        for name, tensor in state.items()
    }
    _check_tensors(
        {k: v for k, v in tensors.items() if k.startswith("optimizer.")},
        expected_tensors,
    )
    state = {
        index: {name: tensors[f"optimizer.{index}.{name}"] for name in entry}
        for index, entry in template["state"].items()
    }
    return {"state": state, "param_groups": groups}


def _same_kind(value, expected):
    if isinstance(expected, bool) or expected is None:
        return type(value) is type(expected)
    if isinstance(expected, (tuple, list)):
        return (
            type(value) is type(expected)
            and len(value) == len(expected)
            and all(_same_kind(v, e) for v, e in zip(value, expected))
        )
    if _is_number(expected):
        return _is_number(value)
    return type(value) is type(expected)


def _check_tensors(tensors, expected, exclude=None):
    names = {
        name for name in tensors if exclude is None or not name.startswith(exclude)
    }
    missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"Invalid sklstm model file: {_TENSORS} lacks the tensors {missing} "
            f"and holds unexpected tensors {extra}."
        )
    for name, reference in expected.items():
        tensor = tensors[name]
        if tensor.dtype != reference.dtype or tensor.shape != reference.shape:
            raise ModelFileError(
                f"Invalid sklstm model file: tensor {name!r} is {tensor.dtype} "
                f"{tuple(tensor.shape)}, expected {reference.dtype} "
                f"{tuple(reference.shape)}."
            )
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ModelFileError(
                f"Invalid sklstm model file: tensor {name!r} holds non-finite values."
            )


def _unprefixed(prefix, tensors):
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _decode_fitted_scaler(encoded, n_features, where):
    if encoded is None:
        return None
    _expect(encoded, dict, where)
    _expect_keys(encoded, {"estimator", "params", "attributes"}, where)
    attributes = encoded["attributes"]
    _expect(attributes, dict, f"{where}.attributes")
    scaler = _decode({k: encoded[k] for k in ("estimator", "params")}, where)
    # The expected attributes, with their types and shapes, come from the same
    # class fitted on a dummy array of the same width.
    template = type(scaler)(**scaler.get_params()).fit(np.zeros((2, n_features)))
    expected = {k: v for k, v in vars(template).items() if k not in scaler.get_params()}
    _expect_keys(attributes, set(expected), f"{where}.attributes")
    for name, reference in expected.items():
        value = _decode(attributes[name], f"{where}.{name}")
        if not _same_array_kind(value, reference):
            raise ModelFileError(
                f"Invalid sklstm model file: {where}.{name} does not match a fitted "
                f"{type(scaler).__name__} with {n_features} features."
            )
        setattr(scaler, name, value)
    return scaler


def _same_array_kind(value, reference):
    if isinstance(reference, np.ndarray):
        return (
            isinstance(value, np.ndarray)
            and value.dtype == reference.dtype
            and value.shape == reference.shape
        )
    return _same_kind(value, reference)


def _decode(value, where, depth=0):
    """Inverse of :func:`_encode`, accepting nothing else."""
    if depth > 8:
        raise ModelFileError(
            f"Invalid sklstm model file: {where} is nested too deeply."
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(item, where, depth + 1) for item in value]
    _expect(value, dict, where)
    if set(value) == {"tuple"}:
        _expect(value["tuple"], list, where)
        return tuple(_decode(item, where, depth + 1) for item in value["tuple"])
    if set(value) == {"ndarray", "dtype", "shape"}:
        return _decode_array(value, where)
    if set(value) == {"random_state"}:
        return _decode_random_state(value["random_state"], where)
    if set(value) == {"estimator", "params"}:
        return _decode_scaler(value, where, depth)
    raise ModelFileError(
        f"Invalid sklstm model file: unknown value at {where}: {value!r}."
    )


def _decode_array(value, where):
    dtype, shape, data = value["dtype"], value["shape"], value["ndarray"]
    if dtype not in _ARRAY_DTYPES:
        raise ModelFileError(f"Invalid sklstm model file: {where} has dtype {dtype!r}.")
    _expect(shape, list, where)
    _expect(data, list, where)
    if not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ModelFileError(f"Invalid sklstm model file: {where} has shape {shape!r}.")
    if math.prod(shape) != len(data):
        raise ModelFileError(
            f"Invalid sklstm model file: {where} has {len(data)} values for shape {shape}."
        )
    if dtype == "str":
        valid = all(isinstance(item, str) for item in data)
    elif dtype == "bool":
        valid = all(isinstance(item, bool) for item in data)
    elif dtype.startswith("int"):
        valid = all(
            isinstance(item, int) and not isinstance(item, bool) for item in data
        )
    else:
        valid = all(_is_number(item) for item in data)
    if not valid:
        raise ModelFileError(
            f"Invalid sklstm model file: {where} holds values that are not {dtype}."
        )
    try:
        array = np.array(data, dtype=object if dtype == "str" else dtype)
    except OverflowError as exc:
        raise ModelFileError(f"Invalid sklstm model file: {where} ({exc}).") from exc
    return array.reshape(shape)


def _decode_random_state(value, where):
    _expect(value, dict, where)
    _expect_keys(value, {"keys", "pos", "has_gauss", "cached_gaussian"}, where)
    state = np.random.RandomState()
    try:
        keys = np.array(value["keys"], dtype=np.uint32)
        state.set_state(
            (
                "MT19937",
                keys,
                value["pos"],
                value["has_gauss"],
                value["cached_gaussian"],
            )
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise ModelFileError(f"Invalid sklstm model file: {where} ({exc}).") from exc
    return state


def _decode_scaler(value, where, depth):
    name, params = value["estimator"], value["params"]
    if name not in _SCALERS:
        raise ModelFileError(
            f"Invalid sklstm model file: {where} names the class {name!r}; only "
            f"{sorted(_SCALERS)} are loaded."
        )
    cls = _SCALERS[name]
    _expect(params, dict, where)
    _expect_keys(params, set(cls().get_params(deep=False)), f"{where}.params")
    scaler = cls(
        **{k: _decode(v, f"{where}.{k}", depth + 1) for k, v in params.items()}
    )
    try:
        scaler._validate_params()
    except ValueError as exc:
        raise ModelFileError(f"Invalid sklstm model file: {where}: {exc}") from exc
    return scaler


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expect(value, kind, where):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelFileError(
            f"Invalid sklstm model file: {where} must be {kind.__name__}, got "
            f"{type(value).__name__}."
        )


def _expect_count(value, where):
    _expect(value, int, where)
    if value < 1:
        raise ModelFileError(f"Invalid sklstm model file: {where}={value}.")
    return value


def _expect_keys(mapping, expected, where):
    missing, extra = (
        sorted(set(expected) - set(mapping)),
        sorted(set(mapping) - set(expected)),
    )
    if missing or extra:
        raise ModelFileError(
            f"Invalid sklstm model file: {where} lacks {missing} and has unexpected "
            f"entries {extra}."
        )
