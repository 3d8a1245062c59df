"""Test helpers shared by several test modules."""

import numpy as np

from sklstm import LSTMRegressor, _regressor, _training


class RecordingRegressor(LSTMRegressor):
    """Records every batch of windows its module receives."""

    def _build_module(self, *args):
        module = super()._build_module(*args)
        self.seen_ = {"train": [], "eval": []}

        def record(mod, args):
            self.seen_["train" if mod.training else "eval"].append(args[0].clone())

        module.register_forward_pre_hook(record)
        return module


def unpadded(batch, n_rows):
    """The first ``n_rows`` windows of an inference batch, checking that the
    rest is the zero padding to a whole block (``_training._PREDICT_BLOCK``)."""
    batch = batch.numpy()
    assert len(batch) % _training._PREDICT_BLOCK == 0
    assert not batch[n_rows:].any()
    return batch[:n_rows]


def capture_training_sets(monkeypatch):
    """A dict that the next fit fills with the TrainingData it trains on."""
    captured = {}
    run_epochs = _regressor.run_epochs

    def capture(module, optimizer, settings, train, validation, *args):
        captured.update(train=train, validation=validation)
        return run_epochs(module, optimizer, settings, train, validation, *args)

    monkeypatch.setattr(_regressor, "run_epochs", capture)
    return captured


def future_changed(X, loc, scale, seed=0):
    """``(t, X')`` for every row t, X' being X with rows t onwards replaced by noise."""
    rng = np.random.default_rng(seed)
    for t in range(len(X)):
        changed = X.copy()
        changed[t:] = rng.normal(loc, scale, size=changed[t:].shape)
        yield t, changed
