"""Training control: early stopping, warm start, partial_fit, weights, losses, progress."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_regression

import sklstm._training as training
from sklstm import LSTMRegressor
from sklstm._regressor import time_ordered_split
from sklstm._training import LoopSettings, batch_loss

SMALL = dict(
    sequence_length=4,
    hidden_size=8,
    num_layers=1,
    max_iter=6,
    n_iter_no_change=np.inf,
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=150, n_features=3, noise=1.0, random_state=0)
    return X, y


def test_validation_rows_are_the_last_ones_after_a_gap():
    train, val = time_ordered_split(100, 0.2, gap=5)
    np.testing.assert_array_equal(val, np.arange(80, 100))
    np.testing.assert_array_equal(train, np.arange(0, 75))
    # No validation window (reaching `gap` rows back) covers a training target.
    assert min(val) - 5 > max(train)


def test_validation_split_too_small_is_a_clear_error():
    with pytest.raises(ValueError, match="Increase 'validation_fraction'"):
        time_ordered_split(10, 0.2, gap=9)


def test_early_stopping_scores_the_last_rows_and_restores_the_best_epoch(data):
    X, y = data
    params = dict(
        SMALL,
        early_stopping=True,
        validation_fraction=0.2,
        max_iter=15,
        learning_rate_init=0.05,
    )
    reg = LSTMRegressor(**params).fit(X, y)
    scores = reg.validation_scores_
    assert len(scores) == reg.n_iter_ == 15
    best = int(np.argmin(scores))
    assert reg.best_validation_score_ == scores[best]
    assert best < reg.n_iter_ - 1, "the test needs a best epoch before the last"

    # The restored model scores best_validation_score_ on the last 20% rows.
    n_val = 30
    val_pred = reg.predict(X)[-n_val:]
    y_scaled = reg.y_scaler_.transform(y[-n_val:, None]).ravel()
    pred_scaled = reg.y_scaler_.transform(val_pred[:, None]).ravel()
    assert np.mean((pred_scaled - y_scaled) ** 2) == pytest.approx(
        reg.best_validation_score_, rel=1e-4
    )

    # ... and predicts exactly like a model whose training ended at that epoch.
    at_best = LSTMRegressor(**dict(params, max_iter=best + 1)).fit(X, y)
    np.testing.assert_array_equal(at_best.predict(X), reg.predict(X))


def test_validation_loss_is_weighted_by_sample_weight(data):
    X, y = data
    weight = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    reg = LSTMRegressor(
        **dict(SMALL, early_stopping=True, validation_fraction=0.2, max_iter=3)
    ).fit(X, y, sample_weight=weight)

    # The restored model's weighted MSE on the last 20% rows, in scaled units.
    n_val = 30
    y_scaled = reg.y_scaler_.transform(y[-n_val:, None]).ravel()
    pred_scaled = reg.y_scaler_.transform(reg.predict(X)[-n_val:, None]).ravel()
    expected = np.average((pred_scaled - y_scaled) ** 2, weights=weight[-n_val:])
    assert reg.best_validation_score_ == pytest.approx(expected, rel=1e-4)
    assert expected != pytest.approx(np.mean((pred_scaled - y_scaled) ** 2), rel=1e-3)


def test_early_stopping_stops_before_max_iter(data):
    X, y = data
    reg = LSTMRegressor(
        **dict(SMALL, early_stopping=True, n_iter_no_change=2, tol=1.0, max_iter=50)
    ).fit(X, y)
    # As in MLPRegressor: the first epoch sets the best, and training stops
    # when more than n_iter_no_change epochs in a row fail by tol.
    assert reg.n_iter_ == 4


def test_loss_based_stop_can_be_switched_off(data):
    X, y = data
    stopping = LSTMRegressor(**dict(SMALL, n_iter_no_change=2, tol=1.0)).fit(X, y)
    fixed = LSTMRegressor(**dict(SMALL, tol=1.0)).fit(X, y)
    assert stopping.n_iter_ == 4
    assert fixed.n_iter_ == SMALL["max_iter"]
    assert stopping.best_loss_ == min(stopping.loss_curve_)


def test_warm_start_continues_the_loss_curve_exactly(data):
    X, y = data
    five = LSTMRegressor(**dict(SMALL, max_iter=5)).fit(X, y)
    warm = LSTMRegressor(**dict(SMALL, max_iter=3, warm_start=True)).fit(X, y)
    warm.set_params(max_iter=2).fit(X, y)
    assert warm.n_iter_ == 5
    assert warm.loss_curve_ == five.loss_curve_
    np.testing.assert_array_equal(warm.predict(X), five.predict(X))


def test_warm_start_uses_the_current_hyperparameters(data):
    X, y = data
    reg = LSTMRegressor(**dict(SMALL, max_iter=2, warm_start=True)).fit(X, y)
    reg.set_params(alpha=1.6, beta_1=0.5).fit(X, y)
    groups = reg._optimizer_state["param_groups"]
    assert groups[0]["weight_decay"] == pytest.approx(1.6 / 16)
    assert groups[1]["weight_decay"] == 0.0  # biases are not penalised
    assert groups[0]["betas"][0] == 0.5
    assert reg.n_iter_ == 4


def test_warm_start_with_other_feature_count_is_a_clear_error(data):
    X, y = data
    reg = LSTMRegressor(**dict(SMALL, warm_start=True)).fit(X, y)
    before = reg.predict(X)
    with pytest.raises(
        ValueError, match="X has 2 features, but LSTMRegressor is expecting 3"
    ):
        reg.fit(X[:, :2], y)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_partial_fit_twice_equals_fit_with_two_epochs(data):
    X, y = data
    two = LSTMRegressor(**dict(SMALL, max_iter=2)).fit(X, y)
    inc = LSTMRegressor(**SMALL)
    inc.partial_fit(X, y)
    assert inc.n_iter_ == 1
    inc.partial_fit(X, y)
    assert inc.loss_curve_ == two.loss_curve_
    np.testing.assert_array_equal(inc.predict(X), two.predict(X))
    assert inc.t_ == 2 * len(X)


def test_zero_weights_remove_rows_influence(data):
    X, y = data
    weight = np.ones(len(y))
    weight[40:60] = 0
    y_other = y.copy()
    y_other[40:60] = 1e4  # would dominate the fit (and the y scaler) if it counted
    a = LSTMRegressor(**SMALL).fit(X, y, sample_weight=weight)
    b = LSTMRegressor(**SMALL).fit(X, y_other, sample_weight=weight)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    unweighted = LSTMRegressor(**SMALL).fit(X, y_other)
    assert not np.allclose(unweighted.predict(X), a.predict(X))


def test_weighted_score(data):
    X, y = data
    reg = LSTMRegressor(**SMALL).fit(X, y)
    w = np.r_[np.ones(75), np.zeros(75)]
    # Windows only look back, so the first 75 predictions do not depend on the rest.
    assert reg.score(X, y, sample_weight=w) == pytest.approx(reg.score(X[:75], y[:75]))
    assert reg.score(X, y, sample_weight=w) != reg.score(X, y)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_batch_losses(loss):
    pred = torch.tensor([[0.0], [1.0], [4.0]])
    y = torch.zeros(3, 1)
    settings = LoopSettings(loss, 1.0, 16, True, None, 0.0, np.inf, False, 0)
    expected = {
        "squared_error": (0 + 1 + 16) / 3,
        "absolute_error": (0 + 1 + 4) / 3,
        "huber": (0 + 0.5 + 3.5) / 3,
    }[loss]
    assert batch_loss(settings, pred, y, None).item() == pytest.approx(expected)
    weight = torch.tensor([0.0, 0.0, 3.0])
    assert batch_loss(settings, pred, y, weight).item() == pytest.approx(
        {"squared_error": 16, "absolute_error": 4, "huber": 3.5}[loss]
    )


@pytest.mark.parametrize("loss", ["absolute_error", "huber"])
def test_robust_losses_train(data, loss):
    X, y = data
    reg = LSTMRegressor(**dict(SMALL, loss=loss, huber_delta=0.1)).fit(X, y)
    assert np.isfinite(reg.loss_curve_).all()
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_gradient_clipping(monkeypatch, data):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm):
        parameters = list(parameters)
        clip(parameters, max_norm)
        norms.append(
            float(
                torch.linalg.vector_norm(
                    torch.stack([p.grad.norm() for p in parameters])
                )
            )
        )

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    LSTMRegressor(**dict(SMALL, max_grad_norm=1e-3, max_iter=1)).fit(*data)
    assert len(norms) == 10  # ceil(150 / 16) steps
    assert max(norms) <= 1e-3 * 1.001


def test_adaptive_learning_rate_divides_by_five(data):
    X, y = data
    reg = LSTMRegressor(
        **dict(
            SMALL, learning_rate="adaptive", n_iter_no_change=1, tol=1e3, max_iter=50
        )
    ).fit(X, y)
    # Every epoch after the first fails to improve by tol: every second one
    # divides the rate by 5 (epochs 3, 5, ..., 11: 1e-3 -> 3.2e-7), and the
    # trigger at epoch 13 stops.
    lr = reg._optimizer_state["param_groups"][0]["lr"]
    assert lr == pytest.approx(1e-3 / 5**5)
    assert reg.n_iter_ == 13
    constant = LSTMRegressor(**SMALL).fit(X, y)
    assert constant._optimizer_state["param_groups"][0]["lr"] == 1e-3


def test_divergence_is_a_clear_error_and_keeps_the_fitted_model(data):
    X, y = data
    reg = LSTMRegressor(**SMALL).fit(X, y)
    before = reg.predict(X)
    reg.set_params(y_scaler=None, learning_rate_init=1e3)
    with pytest.raises(ValueError, match="diverged.*learning_rate_init.*scaled"):
        reg.fit(X, y * 1e30)
    np.testing.assert_array_equal(reg.predict(X), before)
    reg.set_params(warm_start=True)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y * 1e30)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_keyboard_interrupt_keeps_a_usable_model(monkeypatch, data):
    X, y = data
    one_epoch = training._one_epoch
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return one_epoch(*args)

    monkeypatch.setattr(training, "_one_epoch", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        reg = LSTMRegressor(**SMALL).fit(X, y)
    assert reg.n_iter_ == 2 and len(reg.loss_curve_) == 2
    assert np.isfinite(reg.predict(X)).all()


def test_verbose_levels(capsys, tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    LSTMRegressor(**dict(SMALL, max_iter=3)).fit(*data)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert list(tmp_path.iterdir()) == []

    LSTMRegressor(**dict(SMALL, max_iter=3, verbose=1, early_stopping=True)).fit(*data)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Iteration 1, loss = ")
    assert "validation loss = " in lines[0] and lines[0].endswith(" s")

    LSTMRegressor(**dict(SMALL, max_iter=3, verbose=2)).fit(*data)
    err = capsys.readouterr().err
    assert "3/3" in err and "\r" in err
    assert list(tmp_path.iterdir()) == []


def test_reproducible_early_stopping_with_dropout(data):
    X, y = data
    params = dict(SMALL, num_layers=2, dropout=0.5, early_stopping=True)
    a = LSTMRegressor(**params).fit(X, y)
    b = clone(a).fit(X, y)
    assert a.validation_scores_ == b.validation_scores_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
