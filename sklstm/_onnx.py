"""Export the whole prediction path of a fitted LSTMRegressor to ONNX.

The exported graph is a torch module built here around a copy of the fitted
network: the x scaler's transform and the y scaler's inverse folded in as
constants, and, for a 2D series, the windowing (padding with the first row,
one window per row, the all-zero window of rows without history). It is
traced by torch's ``torch.export``-based ONNX exporter (which needs
onnxscript); the scalers run in float64 and the network in float32, as in
``predict``.
"""

import copy
import io
import logging
import warnings
from contextlib import contextmanager

import torch
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._regressor import LSTMRegressor

# Opset 18 is the oldest the exporter targets; an older runtime reads it.
_OPSET = 18
_INPUT_TYPES = ("windows", "series")


def to_onnx(estimator, path, *, input_type="windows"):
    """Export a fitted LSTMRegressor's ``predict`` to an ONNX file.

    The graph holds the whole prediction path: the x scaling, the window
    normalisation, the network and the inverse y scaling, so that a runtime
    such as onnxruntime serves the model without Python, scikit-learn or
    torch. It takes float64 ``X`` and returns float64 ``y`` shaped as
    ``predict`` returns it; the scalers run in float64 and the network in
    float32, as in ``predict``, so the outputs agree with ``predict`` to
    float32 rounding (about 1e-7 relative).

    Parameters
    ----------
    estimator : LSTMRegressor
        A fitted estimator whose ``x_scaler`` and ``y_scaler`` are None,
        ``"minmax"`` or one of MinMaxScaler, StandardScaler, RobustScaler and
        MaxAbsScaler (affine maps, folded into the graph as constants).

    path : str, path-like or binary file object
        Where to write the ONNX model. An existing file is replaced.

    input_type : {"windows", "series"}, default="windows"
        ``"windows"``: the graph input ``X`` is a batch of windows of shape
        ``(batch, sequence_length, n_features)`` (3D ``X`` of ``predict``),
        with a dynamic batch size; every window is predicted on its own.
        ``"series"``: ``X`` is one time-ordered series of shape
        ``(n_timesteps, n_features)`` (2D ``X`` of ``predict``) with a
        dynamic number of rows, windowed inside the graph exactly as
        ``predict`` does, warm-up padding and ``window_lag`` included. Each
        call is one series: its rows' windows are made of the rows before
        them in the same input.

    Raises
    ------
    NotFittedError
        If the estimator is not fitted.
    ValueError
        If a fitted scaler is not one of the supported ones, or the estimator
        reads lag tables (``window="columns"``).
    ImportError
        If onnx or onnxscript is not installed.
    TypeError
        If ``estimator`` is not an LSTMRegressor.

    See Also
    --------
    save : The safe file format to store a model for Python.

    Notes
    -----
    The output ``y`` has shape ``(batch,)`` when ``y`` was 1D in ``fit``,
    ``(batch, n_outputs)`` otherwise. The file holds no stack traces or local
    paths, and the same model gives the same bytes. ONNX opset 18.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import onnxruntime
    >>> import sklstm
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(size=(50, 4, 2))
    >>> reg = sklstm.LSTMRegressor(sequence_length=4, hidden_size=4, max_iter=2,
    ...                            random_state=0).fit(X, X[:, -1, 0])
    >>> buffer = io.BytesIO()
    >>> sklstm.to_onnx(reg, buffer)
    >>> session = onnxruntime.InferenceSession(buffer.getvalue())
    >>> y = session.run(None, {"X": X})[0]
    >>> bool(np.allclose(y, reg.predict(X), rtol=1e-5, atol=1e-5))
    True
    """
    if type(estimator) is not LSTMRegressor:
        raise TypeError(
            f"to_onnx exports LSTMRegressor instances, got {type(estimator).__name__}."
            " For a Pipeline, give its scaler to the estimator as x_scaler instead."
        )
    check_is_fitted(estimator)
    if input_type not in _INPUT_TYPES:
        raise ValueError(
            f"input_type must be one of {list(_INPUT_TYPES)}, got {input_type!r}."
        )
    if estimator.window != "rows":
        raise ValueError(
            f"to_onnx does not export window={estimator.window!r} models yet (the "
            "graph would need the lag table's reshape into windows); export a "
            "window='rows' model, fitted on 3D windows or a 2D series."
        )
    if hasattr(estimator, "series_"):
        # The graph holds one scaler; a panel model scales each series its own way.
        raise ValueError(
            "to_onnx does not export models fitted on many series (series_column): "
            "the graph would need a scaler per series. Use sklstm.save or pickle."
        )
    graph = _PredictionGraph(estimator, series=input_type == "series")
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "to_onnx needs the onnx and onnxscript packages: "
            "pip install 'sklstm[onnx]'."
        ) from exc
    n_features = estimator.n_features_in_
    if input_type == "series":
        # More rows than any window reaches back, so that the exporter does
        # not specialise the row count.
        n_rows = estimator.sequence_length + estimator.window_lag + 2
        example = torch.zeros((n_rows, n_features), dtype=torch.float64)
        dims, shape = {0: torch.export.Dim("n_timesteps")}, "(n_timesteps, n_features)"
    else:
        example = torch.zeros(
            (2, estimator.sequence_length, n_features), dtype=torch.float64
        )
        dims, shape = {0: torch.export.Dim("batch")}, "(batch, sequence_length, ...)"
    with _quiet_exporter():
        program = torch.onnx.export(
            graph,
            (example,),
            dynamo=True,
            dynamic_shapes=(dims,),
            input_names=["X"],
            output_names=["y"],
            opset_version=_OPSET,
            optimize=True,
            verbose=False,
        )
    model = program.model_proto
    _drop_metadata(model)
    _number_values(model.graph)
    model.doc_string = (
        f"sklstm LSTMRegressor.predict: X float64 {shape} with "
        f"sequence_length={estimator.sequence_length}, n_features={n_features}; "
        "y float64."
    )
    if isinstance(path, io.IOBase) or hasattr(path, "write"):
        path.write(model.SerializeToString())
    else:
        onnx.save_model(model, path)


class _PredictionGraph(nn.Module):
    """``predict`` of a fitted estimator as one torch module (float64 in and out).

    With ``series=False`` the input is a batch of windows.
    """

    def __init__(self, estimator, series):
        super().__init__()
        self.net = copy.deepcopy(estimator.module_).cpu().eval()
        self.x_map = _affine(estimator.x_scaler_, inverse=False, where="x_scaler")
        self.y_map = _affine(estimator.y_scaler_, inverse=True, where="y_scaler")
        self.series = series
        self.sequence_length = estimator.sequence_length
        self.window_lag = estimator.window_lag
        self.y_1d = estimator._y_1d
        # The output for the all-zero window of rows without history, as
        # predict computes it: a constant of the model.
        blank = torch.zeros((1, self.sequence_length, estimator.n_features_in_))
        with torch.no_grad():
            self.register_buffer("blank", self.net(blank).clone())

    def forward(self, X):
        x = self.x_map(X).to(torch.float32)
        if not self.series:
            out = self.net(x)
        else:
            # The padded series of _windowing: the first row repeated in
            # front, then the window ending at every row. Written here rather
            # than calling series_windows, whose min() on the row count the
            # exporter cannot keep symbolic (the export then fails).
            pad = x[:1].expand(self.sequence_length - 1, -1)
            series = torch.cat([pad, x])
            windows = series.unfold(0, self.sequence_length, 1).transpose(1, 2)
            out = self.net(windows)
            if self.window_lag:
                # Row t gets the window ending at row t - window_lag; the
                # first window_lag rows get the blank window's output.
                blank = self.blank.expand(*self.blank.shape[:-2], self.window_lag, -1)
                out = torch.cat([blank, out], dim=-2)[..., : X.shape[0], :]
        # An ensemble's members (a leading axis) are mapped back one by one
        # and averaged, as predict does.
        y = self.y_map(out.to(torch.float64))
        if y.dim() == 3:
            y = y.mean(dim=0)
        return y[:, 0] if self.y_1d else y


class _Affine(nn.Module):
    """A scaler's per-feature transform as float64 steps, in sklearn's order.

    Each step is ``x - c``, ``x / c``, ``x * c`` or ``x + c`` in the order
    the scaler applies them, so the graph's float64 results equal the
    scaler's bit for bit.
    """

    def __init__(self, steps, clip=None):
        super().__init__()
        self.ops = tuple(op for op, _ in steps)
        for index, (_, constant) in enumerate(steps):
            self.register_buffer(
                f"c{index}", torch.as_tensor(constant, dtype=torch.float64)
            )
        self.clip = clip

    def forward(self, x):
        for index, op in enumerate(self.ops):
            c = getattr(self, f"c{index}")
            if op == "sub":
                x = x - c
            elif op == "div":
                x = x / c
            elif op == "mul":
                x = x * c
            else:
                x = x + c
        if self.clip is not None:
            x = x.clamp(*self.clip)
        return x


def _affine(scaler, inverse, where):
    if scaler is None:
        return _Affine([])
    kind = type(scaler)
    if kind is MinMaxScaler:
        if inverse:
            return _Affine([("sub", scaler.min_), ("div", scaler.scale_)])
        clip = tuple(map(float, scaler.feature_range)) if scaler.clip else None
        return _Affine([("mul", scaler.scale_), ("add", scaler.min_)], clip)
    if kind in (StandardScaler, RobustScaler):
        centre = scaler.mean_ if kind is StandardScaler else scaler.center_
        if inverse:
            steps = [("mul", scaler.scale_), ("add", centre)]
        else:
            steps = [("sub", centre), ("div", scaler.scale_)]
        # with_mean / with_centering / with_scaling=False leave None.
        return _Affine([(op, c) for op, c in steps if c is not None])
    if kind is MaxAbsScaler:
        return _Affine([("mul" if inverse else "div", scaler.scale_)])
    raise ValueError(
        f"to_onnx cannot export {where}={kind.__name__}: only None, 'minmax', "
        "MinMaxScaler, StandardScaler, RobustScaler and MaxAbsScaler, whose "
        "transforms are per-feature affine maps, are supported. Scale X or y "
        "with one of them, or serve the model with pickle or sklstm.save."
    )


@contextmanager
def _quiet_exporter():
    # The exporter warns about internals (torchvision missing, LSTM weights
    # assigned during tracing) that say nothing about the user's model.
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _drop_metadata(model):
    """Remove the exporter's per-node metadata: stack traces with local paths,
    and tracing details that differ from run to run."""
    del model.metadata_props[:]
    for graph in [model.graph, *model.functions]:
        del graph.metadata_props[:]
        for node in graph.node:
            del node.metadata_props[:]
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        del value.metadata_props[:]
    for initializer in model.graph.initializer:
        del initializer.metadata_props[:]


def _number_values(graph):
    """Name the graph's inner values and nodes in the order the nodes use
    them, and sort the constants by those names: the exporter's names and
    constant order come from counters and caches that differ from one export
    to the next in a process (the first export of a process differed)."""
    kept = {value.name for value in [*graph.input, *graph.output]}
    names = {}
    for node in graph.node:
        for name in [*node.input, *node.output]:
            if name and name not in kept and name not in names:
                names[name] = f"v{len(names)}"
    for initializer in graph.initializer:
        initializer.name = names.get(initializer.name, initializer.name)
    for value in graph.value_info:
        value.name = names.get(value.name, value.name)
    for index, node in enumerate(graph.node):
        node.name = f"n{index}"
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]
    order = {name: index for index, name in enumerate(names.values())}
    for values in (graph.initializer, graph.value_info):
        ordered = sorted(values, key=lambda v: order.get(v.name, len(order)))
        ordered = [type(v).FromString(v.SerializeToString()) for v in ordered]
        del values[:]
        values.extend(ordered)
