"""The pickled state of a fitted LSTMRegressor: numpy arrays, no torch object.

``__getstate__`` replaces every torch object of the fitted state (the module,
Adam's state, the best weights of early stopping, the generator's state and
the device) by numpy arrays and plain containers, and ``__setstate__``
rebuilds them. A state without torch objects:

- loads with skops (``skops.io``), which serialises numpy arrays but not
  torch tensors, and so with MLflow's default ``serialization_format``;
- holds CPU arrays only, so a model trained on CUDA loads on any machine;
- round-trips through joblib's read-only memory maps (the arrays are copied
  into fresh tensors on load).

Pickles written before this format hold the torch objects themselves; they
still load, sklstm 0.1's module rebuilt as today's.
"""

import dataclasses

import numpy as np
import torch

from ._model import LSTMNet
from ._training import History


def plain_state(state):
    """A copy of an estimator's ``__dict__`` whose fitted state is torch-free."""
    state = dict(state)
    if "module_" not in state:
        return state
    module = state["module_"]
    state["module_"] = {
        "architecture": module.architecture(),
        "state_dict": _arrays(dict(module.state_dict())),
    }
    state["_optimizer_state"] = _arrays(state["_optimizer_state"])
    history = dataclasses.asdict(state["_history"])
    if history["best_state"] is not None:
        history["best_state"] = _arrays(dict(state["_history"].best_state))
    state["_history"] = history
    state["_rng_state"] = _arrays(state["_rng_state"])
    # Tensors load on the CPU, so the loaded model lives there.
    state["device_"] = "cpu"
    return state


def torch_state(state):
    """Inverse of :func:`plain_state`; a pickle of the older format passes as is."""
    state = dict(state)
    if isinstance(state.get("module_"), torch.nn.Module):
        state["module_"] = _current_module(state["module_"])
        return state
    if "module_" not in state:
        return state
    saved = state["module_"]
    # Rebuilt from the recorded architecture, not the current parameters: a
    # set_params after fit must not change what the pickle restores.
    module = LSTMNet(**saved["architecture"])
    module.load_state_dict(_tensors(saved["state_dict"]))
    state["module_"] = module
    state["_optimizer_state"] = _tensors(state["_optimizer_state"])
    history = dict(state["_history"])
    if history["best_state"] is not None:
        history["best_state"] = _tensors(history["best_state"])
    state["_history"] = History(**history)
    state["_rng_state"] = _tensors(state["_rng_state"])
    state["device_"] = torch.device(state["device_"])
    return state


def _current_module(module):
    """The module of an older pickle, rebuilt if it predates this LSTMNet."""
    if hasattr(module, "linear_skip"):
        return module
    # sklstm 0.1's LSTMNet: its LSTM held the dropout, and it had no
    # seasonal centre, linear skip or exogenous columns.
    rebuilt = LSTMNet(
        module.lstm.input_size,
        module.head.out_features,
        module.lstm.hidden_size,
        module.lstm.num_layers,
        module.lstm.dropout,
        module.lstm.bidirectional,
        module.window_normalization,
        module.target_feature,
    )
    rebuilt.load_state_dict(module.state_dict())
    return rebuilt


def _arrays(obj):
    """``obj`` with every tensor replaced by a CPU ndarray copy."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True).numpy()
    if isinstance(obj, dict):
        return {key: _arrays(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_arrays(value) for value in obj]
    return obj


def _tensors(obj):
    """Inverse of :func:`_arrays`."""
    if isinstance(obj, np.ndarray):
        # A copy: the array may be a read-only memory map (joblib's mmap_mode),
        # which torch refuses to share.
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {key: _tensors(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_tensors(value) for value in obj]
    return obj
