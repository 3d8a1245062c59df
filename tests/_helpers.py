"""Test helpers shared by several test modules."""

from sklstm import LSTMRegressor


class RecordingRegressor(LSTMRegressor):
    """Records every batch of windows its module receives."""

    def _build_module(self, *args):
        module = super()._build_module(*args)
        self.seen_ = {"train": [], "eval": []}

        def record(mod, args):
            self.seen_["train" if mod.training else "eval"].append(args[0].clone())

        module.register_forward_pre_hook(record)
        return module
