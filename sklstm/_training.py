"""The epoch loop, batched prediction, seeding and the thread scope.

This module knows torch and the windows of ``_windowing``, not the
estimator: the estimator hands it a module, data and a :class:`LoopSettings`,
and reads the :class:`History` it fills.
"""

import copy
import math
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from torch.nn import functional as F

from ._ensemble import clip_grad_norm_per_member
from ._windowing import gather

_PREDICT_BATCH_SIZE = 1024  # throughput peaked at 1024-2048 windows per batch
# Inference batches are padded to a multiple of this many rows: the CPU
# kernels run a batch whose size is not a multiple of their block (4 rows on
# one Xeon here, a lot of other sizes elsewhere) partly through another path,
# which rounds differently in float32, so a row's prediction depended on how
# many rows came with it (by up to 2e-7, which failed sklearn's
# check_methods_subset_invariance and made rolling_forecast differ from
# predict). With one block size for every batch, every row takes one path.
_PREDICT_BLOCK = 64


def _pinball_loss(pred, y, settings):
    residual = y - pred
    q = settings.quantile
    return torch.maximum(q * residual, (q - 1) * residual)


_ELEMENTWISE_LOSSES = {
    "squared_error": lambda pred, y, s: F.mse_loss(pred, y, reduction="none"),
    "absolute_error": lambda pred, y, s: F.l1_loss(pred, y, reduction="none"),
    "huber": lambda pred, y, s: F.huber_loss(
        pred, y, reduction="none", delta=s.huber_delta
    ),
    "quantile": _pinball_loss,
}


class DivergenceError(ValueError):
    """Raised when the training loss or the weights become non-finite."""


@dataclass
class LoopSettings:
    """What the epoch loop needs to know, taken from the estimator's parameters."""

    loss: str
    huber_delta: float
    batch_size: int
    shuffle: bool
    max_grad_norm: float | None
    tol: float
    n_iter_no_change: float
    adaptive_learning_rate: bool
    verbose: int
    quantile: float = 0.5


@dataclass
class History:
    """Training state that outlives one call to the loop (warm starts continue it)."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list | None = None
    best_loss: float = math.inf
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0
    learning_rate: float = 1e-3
    best_state: dict | None = None


def seed_from_random_state(random_state):
    """An int seed drawn from a random state, as sklearn estimators draw theirs."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = None


@contextmanager
def torch_threads(n_threads):
    """Use ``n_threads`` intra-op threads inside the block, then restore.

    The torch setting is process-wide, so concurrent blocks share it: the first
    to enter saves the caller's value and the last to leave restores it.
    """
    global _threads_users, _threads_saved
    if n_threads is None:
        yield
        return
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_saved)


def batch_loss(settings, pred, y, weight):
    """Mean loss of a batch; ``weight`` (normalised to mean 1) or None.

    For the members of an ensemble (``pred`` of shape ``(K, B, n_outputs)``),
    the sum of each member's mean loss, so that every member gets the
    gradient it would get if it were trained alone.
    """
    n_members = len(pred) if pred.dim() == 3 else 1
    if n_members > 1:
        y = y.expand_as(pred)
    if weight is None and settings.loss == "squared_error":
        loss = F.mse_loss(pred, y)
    else:
        per_value = _ELEMENTWISE_LOSSES[settings.loss](pred, y, settings)
        if weight is None:
            loss = per_value.mean()
        else:
            loss = (per_value.mean(dim=-1) * weight).mean()
    return loss if n_members == 1 else loss * n_members


def ensemble_mean(out):
    """The prediction of a module's output: the members' mean, if any."""
    return out.mean(dim=0) if out.dim() == 3 else out


def _batches_in_order(windows):
    """``(rows, batch)`` for consecutive runs of windows, for inference."""
    for start in range(0, len(windows), _PREDICT_BATCH_SIZE):
        stop = min(start + _PREDICT_BATCH_SIZE, len(windows))
        idx = torch.arange(start, stop, device=windows.device)
        yield slice(start, stop), gather(windows, idx)


def _outputs(module, batch):
    """``module(batch)``, run on the batch padded with zero windows to a
    multiple of ``_PREDICT_BLOCK`` rows."""
    n_rows = len(batch)
    extra = -n_rows % _PREDICT_BLOCK
    if extra:
        batch = torch.cat([batch, batch.new_zeros((extra, *batch.shape[1:]))])
    return module(batch)[..., :n_rows, :]


def _blank_outputs(module, windows):
    """Outputs, on the host, for the all-zero window that rows without
    history share."""
    blank = windows.new_zeros((1, *windows.shape[1:]))
    return _outputs(module, blank).cpu().numpy()


@torch.inference_mode()
def predict_windows(module, windows, n_outputs, n_without_history=0):
    """Outputs of ``module`` for every window, a float64 ndarray of shape
    ``(n_members, n_rows, n_outputs)``.

    The first ``n_without_history`` rows of the result, rows that have no
    window, get the output for an all-zero window: a constant that carries
    no information about their targets.
    """
    module.eval()
    n_rows = n_without_history + len(windows)
    out = np.empty((module.n_members, n_rows, n_outputs), dtype=np.float64)
    if n_without_history:
        out[:, :n_without_history] = _blank_outputs(module, windows)
    for rows, batch in _batches_in_order(windows):
        out[:, n_without_history:][:, rows] = _outputs(module, batch).cpu().numpy()
    return out


@torch.inference_mode()
def predict_indexed(module, windows, index, n_outputs):
    """Outputs of ``module`` for the windows ``index`` of a panel (-1: a row
    without history, which gets the all-zero window's output), of shape
    ``(n_members, len(index), n_outputs)``."""
    module.eval()
    out = np.empty((module.n_members, len(index), n_outputs), dtype=np.float64)
    blank = index < 0
    if blank.any():
        out[:, blank] = _blank_outputs(module, windows)
    rows = np.flatnonzero(~blank)
    chosen = torch.as_tensor(index[rows], device=windows.device)
    for start in range(0, len(rows), _PREDICT_BATCH_SIZE):
        batch = gather(windows, chosen[start : start + _PREDICT_BATCH_SIZE])
        out[:, rows[start : start + _PREDICT_BATCH_SIZE]] = (
            _outputs(module, batch).cpu().numpy()
        )
    return out


@torch.inference_mode()
def evaluate_loss(module, settings, data):
    """Mean (weighted) loss of ``module`` over a :class:`TrainingData`."""
    module.eval()
    total = torch.zeros((), device=data.y.device)
    positions = torch.arange(len(data.y), device=data.y.device)
    for start in range(0, len(data.y), _PREDICT_BATCH_SIZE):
        rows = slice(start, start + _PREDICT_BATCH_SIZE)
        batch = data.batch(positions[rows])
        w = None if data.weight is None else data.weight[rows]
        pred = ensemble_mean(module(batch))
        total += batch_loss(settings, pred, data.y[rows], w) * len(batch)
    return total.item() / len(data.y)


@dataclass
class TrainingData:
    """Windows, scaled targets and normalised weights of one run of target rows.

    For one series, training and validation rows are contiguous runs, so each
    set is a slice (a view) of the same windows and targets and ``index`` is
    None. For a panel, ``windows`` is the view over all series and ``index``
    the window of each target in it (see ``_panel``).
    """

    windows: torch.Tensor  # (n_targets, sequence_length, n_features), maybe a view
    y: torch.Tensor  # (n_targets, n_outputs)
    weight: torch.Tensor | None  # (n_targets,), mean 1
    index: torch.Tensor | None = None  # (n_targets,) into windows, for a panel
    # (n_targets,) how many of each window's last rows are real, not warm-up
    # padding (for the linear skip); None when all are.
    history: torch.Tensor | None = None
    # (n_targets,) for a panel, each target's series (its position in the
    # fitted series, -1 for one new to the model).
    series: torch.Tensor | None = None

    def batch(self, idx, out=None):
        """The windows of targets ``idx``, gathered into one contiguous batch."""
        return gather(
            self.windows, idx if self.index is None else self.index[idx], out=out
        )


def run_epochs(
    module, optimizer, settings, train, validation, max_epochs, history, generator
):
    """Train for up to ``max_epochs`` epochs, updating ``history`` in place.

    Shuffling and dropout draw from the CPU ``generator`` only, whose state
    moves on as the epochs run, so a later call continues the same stream.

    Stops early on the rule of MLPRegressor: after ``n_iter_no_change``
    epochs whose validation loss (or training loss, without validation) did
    not improve by ``tol``; with the adaptive learning rate, each such stop
    first divides the rate by 5 until it falls below 1e-6. Raises
    :class:`DivergenceError` when the loss or the weights become non-finite.
    A ``KeyboardInterrupt`` ends training after a warning; what has been
    recorded up to the last finished epoch stays.
    """
    n_train = len(train.y)
    progress = _Progress(max_epochs) if settings.verbose >= 2 else None
    stopped = False
    try:
        for _ in range(max_epochs):
            started = time.perf_counter()
            epoch_loss = _one_epoch(module, optimizer, settings, train, generator)
            if not math.isfinite(epoch_loss) or not _weights_finite(module):
                raise DivergenceError(
                    f"Training diverged at epoch {history.n_iter + 1}: the loss is "
                    f"{epoch_loss}. Lower 'learning_rate_init', set 'max_grad_norm', "
                    "or make sure X and y are scaled (keep the default x_scaler and "
                    "y_scaler) and free of extreme values."
                )
            history.n_iter += 1
            history.t += n_train
            history.loss_curve.append(epoch_loss)
            val_loss = None
            if validation is not None:
                val_loss = evaluate_loss(module, settings, validation)
                history.validation_scores.append(val_loss)
            _report(
                settings, history, val_loss, time.perf_counter() - started, progress
            )
            if _update_no_improvement(module, settings, history, val_loss):
                if settings.adaptive_learning_rate and history.learning_rate > 1e-6:
                    history.learning_rate /= 5
                    history.no_improvement_count = 0
                    for group in optimizer.param_groups:
                        group["lr"] = history.learning_rate
                    if settings.verbose:
                        print(f"Setting learning rate to {history.learning_rate:f}")
                else:
                    stopped = True
                    break
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
        stopped = True
    finally:
        if progress is not None:
            progress.close()
    if validation is not None and history.best_state is not None:
        module.load_state_dict(history.best_state)
    return stopped


def _one_epoch(module, optimizer, settings, data, generator):
    module.train()
    n, device = len(data.y), data.y.device
    # Drawn on the CPU generator whatever the device, so that a seed gives
    # the same batches on every device; int32 halves the one array of the
    # epoch that grows with the series.
    dtype = torch.int32 if n < 2**31 else torch.int64
    if settings.shuffle:
        order = torch.randperm(n, dtype=dtype, generator=generator).to(device)
    else:
        order = torch.arange(n, dtype=dtype, device=device)
    # One batch buffer for the whole epoch: a fresh batch at every step
    # fragments the heap around the LSTM's large workspaces (measured +5 MB
    # of peak memory on the 1M-row benchmark).
    shape = (min(settings.batch_size, n),) + data.windows.shape[1:]
    batch = data.windows.new_empty(shape)
    dropout_generator = _dropout_generator(module, generator, device)
    total = torch.zeros((), device=device)
    for start in range(0, n, settings.batch_size):
        idx = order[start : start + settings.batch_size]
        w = None if data.weight is None else data.weight[idx]
        x = data.batch(idx, out=batch[: len(idx)])
        loss = batch_loss(settings, module(x, dropout_generator), data.y[idx], w)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.max_grad_norm is None:
            pass
        elif module.n_members > 1:
            clip_grad_norm_per_member(module.parameters(), settings.max_grad_norm)
        else:
            torch.nn.utils.clip_grad_norm_(module.parameters(), settings.max_grad_norm)
        optimizer.step()
        total += loss.detach() * len(idx)
    # One host synchronisation per epoch; the members' mean loss.
    return total.item() / n / module.n_members


def _dropout_generator(module, generator, device):
    """A generator on ``device`` for the epoch's dropout masks, or None.

    Seeded from the CPU generator, so that its stream (and so a fit's
    result) is the same whether the fit runs in one call or epoch by epoch.
    """
    if not module.dropout:
        return None
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def _weights_finite(module):
    return bool(torch.stack([p.isfinite().all() for p in module.parameters()]).all())


def _update_no_improvement(module, settings, history, val_loss):
    """MLPRegressor's stopping rule; True when the patience is exhausted."""
    loss = history.loss_curve[-1]
    if val_loss is None:
        improved = loss < history.best_loss - settings.tol
    else:
        best = history.best_validation_score
        improved = best is None or val_loss < best - settings.tol
        if best is None or val_loss < best:
            history.best_validation_score = val_loss
            history.best_state = copy.deepcopy(module.state_dict())
    history.best_loss = min(history.best_loss, loss)
    history.no_improvement_count = 0 if improved else history.no_improvement_count + 1
    return history.no_improvement_count > settings.n_iter_no_change


def _report(settings, history, val_loss, seconds, progress):
    if settings.verbose == 1:
        line = f"Iteration {history.n_iter}, loss = {history.loss_curve[-1]:.8f}"
        if val_loss is not None:
            line += f", validation loss = {val_loss:.8f}"
        print(f"{line}, {seconds:.2f} s")
    elif progress is not None:
        progress.update(history.loss_curve[-1], val_loss)


class _Progress:
    """A one-line live progress bar on stderr (``verbose=2``)."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.started = time.perf_counter()

    def update(self, loss, val_loss):
        self.done += 1
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        text = f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        text += f" loss {loss:.6f}"
        if val_loss is not None:
            text += f" val {val_loss:.6f}"
        sys.stderr.write(f"{text} {elapsed:.1f}s<{eta:.1f}s")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")
        sys.stderr.flush()


def convergence_warning(max_iter):
    warnings.warn(
        f"Stochastic Optimizer: Maximum iterations ({max_iter}) reached and the "
        "optimization hasn't converged yet.",
        ConvergenceWarning,
    )
