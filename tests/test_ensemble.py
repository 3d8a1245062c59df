"""Deep ensembles (n_estimators), return_std and the quantile loss."""

import copy
import pickle

import numpy as np
import pytest
import torch

import sklstm
import sklstm._ensemble as ensemble
from sklstm import LSTMRegressor
from sklstm._ensemble import StackedLSTM, clip_grad_norm_per_member
from sklstm._model import LSTMNet
from sklstm._training import (
    History,
    LoopSettings,
    TrainingData,
    run_epochs,
    torch_threads,
)

SMALL = dict(
    sequence_length=4,
    hidden_size=8,
    num_layers=2,
    max_iter=4,
    n_iter_no_change=np.inf,
    random_state=0,
)


def _series(n_rows=120, n_outputs=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_rows, 2)).cumsum(axis=0)
    y = X[:, 0] + 0.1 * rng.standard_normal(n_rows)
    if n_outputs:
        y = np.column_stack([y * (k + 1) for k in range(n_outputs)])
    return X, y


def _member_alone(net, k):
    """Member ``k`` of a stacked net as a network of its own (fused nn.LSTM)."""
    single = LSTMNet(**{**net.architecture(), "n_members": 1})
    single = single.to(net.head.weight.dtype)
    with torch.no_grad():
        for name, weight in single.lstm.named_parameters():
            weight.copy_(getattr(net.lstm, name)[k])
        single.head.weight.copy_(net.head.weight[k])
        single.head.bias.copy_(net.head.bias[k])
    return single


@pytest.fixture(params=["stacked", "fused_members"])
def path(request, monkeypatch):
    """Both ways StackedLSTM runs (it picks one by hidden size)."""
    if request.param == "fused_members":
        monkeypatch.setattr(ensemble, "_FUSED_FROM_HIDDEN", 1)
    return request.param


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_stack_computes_each_members_lstm(bidirectional, path):
    torch.manual_seed(0)
    stack = StackedLSTM(3, 2, 5, 2, bidirectional).double()
    for weight in stack.parameters():
        torch.nn.init.uniform_(weight, -0.5, 0.5)
    x = torch.randn(4, 6, 2, dtype=torch.double, requires_grad=True)
    out = stack(x)
    grad = torch.randn_like(out)
    ours = torch.autograd.grad((out * grad).sum(), [x, *stack.parameters()])
    net = LSTMNet(2, 1, 5, 2, 0.0, bidirectional, n_members=3).double()
    net.lstm.load_state_dict(stack.state_dict())
    for k in range(3):
        lstm = _member_alone(net, k).lstm
        reference = lstm(x)[0][:, -1]
        torch.testing.assert_close(out[k], reference)
        theirs = torch.autograd.grad((reference * grad[k]).sum(), [*lstm.parameters()])
        for (name, _), got, expected in zip(
            stack.named_parameters(), ours[1:], theirs, strict=True
        ):
            torch.testing.assert_close(got[k], expected, msg=name)


def test_the_hand_written_backward_passes_gradcheck():
    from sklstm._ensemble import _StackedLSTMLayer

    torch.manual_seed(0)
    k, gates, hidden, steps, batch = 2, 12, 3, 4, 3
    weights = [
        torch.randn(k, gates, 2, dtype=torch.double, requires_grad=True),
        torch.randn(k, gates, hidden, dtype=torch.double, requires_grad=True),
        torch.randn(k, gates, dtype=torch.double, requires_grad=True),
    ]
    shared = torch.randn(steps, batch, 2, dtype=torch.double, requires_grad=True)
    per_member = torch.randn(steps, k, 2, batch, dtype=torch.double, requires_grad=True)
    for x in (shared, per_member):
        assert torch.autograd.gradcheck(_StackedLSTMLayer.apply, (x, *weights))


def _batches():
    torch.manual_seed(0)
    windows = torch.randn(40, 5, 2)
    return TrainingData(windows=windows, y=torch.randn(40, 1), weight=None)


def _trained(net, data):
    """Three epochs with shuffling and gradient clipping, seeded."""
    settings = LoopSettings("squared_error", 1.0, 8, True, 0.5, 0.0, np.inf, False, 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
    generator = torch.Generator().manual_seed(3)
    with torch_threads(1):
        run_epochs(net, optimizer, settings, data, None, 3, History(), generator)
    return net.eval()


def test_each_member_trains_as_if_alone(path):
    """A few Adam steps of the stack equal those of each member on its own,
    on the same batches from the same initial weights (gradient clipping
    included: it applies per member)."""
    data = _batches()
    stack = LSTMNet(2, 1, 6, 2, 0.0, False, n_members=3)
    alone = [_trained(_member_alone(stack, k), data) for k in range(3)]
    _trained(stack, data)
    with torch.no_grad():
        out = stack(data.windows)
        for k, net in enumerate(alone):
            torch.testing.assert_close(out[k], net(data.windows), atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(
                _member_alone(stack, k).lstm.weight_hh_l1,
                net.lstm.weight_hh_l1,
                atol=1e-5,
                rtol=1e-4,
            )


def test_both_ways_of_running_the_stack_train_the_same_with_dropout(monkeypatch):
    data = _batches()
    generator = torch.Generator().manual_seed(0)
    stack = LSTMNet(2, 1, 6, 3, 0.5, True, n_members=3, generator=generator)
    fused = copy.deepcopy(stack)
    _trained(stack, data)
    monkeypatch.setattr(ensemble, "_FUSED_FROM_HIDDEN", 1)
    _trained(fused, data)
    with torch.no_grad():
        torch.testing.assert_close(
            stack(data.windows), fused(data.windows), atol=1e-5, rtol=1e-4
        )


def test_clipping_per_member_scales_only_the_exploding_member():
    weight = torch.nn.Parameter(torch.zeros(2, 3))
    weight.grad = torch.tensor([[30.0, 40.0, 0.0], [0.3, 0.4, 0.0]])
    clip_grad_norm_per_member([weight], 1.0)
    torch.testing.assert_close(weight.grad[0].norm(), torch.tensor(1.0))
    torch.testing.assert_close(weight.grad[1], torch.tensor([0.3, 0.4, 0.0]))


def test_one_estimator_is_the_fused_network():
    X, y = _series()
    reg = LSTMRegressor(**SMALL).fit(X, y)
    assert isinstance(reg.module_.lstm, torch.nn.LSTM)
    np.testing.assert_array_equal(
        reg.predict(X), LSTMRegressor(**SMALL, n_estimators=1).fit(X, y).predict(X)
    )


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_return_std_is_the_members_spread_shaped_like_y(n_outputs):
    X, y = _series(n_outputs=n_outputs)
    reg = LSTMRegressor(**SMALL, n_estimators=3).fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    assert mean.shape == std.shape == y.shape
    np.testing.assert_array_equal(mean, reg.predict(X))
    assert (std > 0).all()
    # Members mapped back one by one, in y's units.
    members = np.stack(
        [
            reg.y_scaler_.inverse_transform(m)
            for m in sklstm._training.predict_windows(
                reg.module_,
                reg._windows(X, reg.x_scaler_, "cpu"),
                reg.n_outputs_,
            )
        ]
    ).reshape((3,) + y.shape)
    np.testing.assert_allclose(mean, members.mean(axis=0))
    np.testing.assert_allclose(std, members.std(axis=0))


def test_return_std_of_a_single_network_is_a_clear_error():
    X, y = _series()
    reg = LSTMRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="n_estimators >= 2"):
        reg.predict(X, return_std=True)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"quantile": 1.5}, "quantile"),
        ({"quantile": 0.0}, "quantile"),
        ({"loss": "pinball"}, "loss"),
    ],
)
def test_bad_values_are_clear_errors(params, match):
    X, y = _series()
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**{**SMALL, **params}).fit(X, y)


def test_reproducible_with_dropout_and_the_global_generator_untouched():
    X, y = _series()
    params = dict(SMALL, n_estimators=3, dropout=0.3)
    before = torch.random.get_rng_state()
    a = LSTMRegressor(**params).fit(X, y).predict(X)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = LSTMRegressor(**params).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    other = LSTMRegressor(**{**params, "random_state": 1}).fit(X, y).predict(X)
    assert not np.allclose(a, other)


def test_members_are_independent_networks():
    X, y = _series()
    reg = LSTMRegressor(**SMALL, n_estimators=2).fit(X, y)
    first = reg.module_.lstm.weight_hh_l0
    assert not torch.equal(first[0], first[1])


def test_partial_fit_twice_equals_two_epochs():
    X, y = _series()
    params = dict(SMALL, n_estimators=3, max_iter=2)
    fitted = LSTMRegressor(**params).fit(X, y)
    partial = LSTMRegressor(**params).partial_fit(X, y).partial_fit(X, y)
    np.testing.assert_array_equal(fitted.predict(X), partial.predict(X))


def test_warm_start_with_another_ensemble_size_is_a_clear_error():
    X, y = _series()
    reg = LSTMRegressor(**SMALL, n_estimators=2, warm_start=True).fit(X, y)
    before = reg.predict(X)
    reg.set_params(n_estimators=3)
    with pytest.raises(ValueError, match="n_estimators=3.*fitted with 2 members"):
        reg.fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_early_stopping_restores_the_best_epoch_of_the_ensemble():
    X, y = _series(200)
    reg = LSTMRegressor(
        **{**SMALL, "max_iter": 8}, n_estimators=3, early_stopping=True
    ).fit(X, y)
    scores = reg.validation_scores_
    assert len(scores) == 8 and reg.best_validation_score_ == min(scores)
    # The restored weights score the best epoch's loss on the validation rows,
    # a loss of the members' mean prediction.
    n_val = int(np.ceil(0.1 * len(y)))
    scaled = reg.y_scaler_.transform(reg.predict(X)[-n_val:, None])
    target = reg.y_scaler_.transform(y[-n_val:, None])
    assert np.mean((scaled - target) ** 2) == pytest.approx(min(scores), rel=1e-4)


def test_sample_weight_and_window_normalization_with_members():
    X, y = _series()
    weight = np.r_[np.ones(60), np.zeros(60)]
    y_other = y.copy()
    y_other[60:] += 100.0
    params = dict(SMALL, n_estimators=2, window_normalization="last", linear_skip=True)
    a = LSTMRegressor(**params).fit(X, y, sample_weight=weight)
    b = LSTMRegressor(**params).fit(X, y_other, sample_weight=weight)
    # y_scaler is fitted on the weighted rows only, so the two fits match.
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-5)


def test_divergence_is_a_clear_error_and_keeps_the_fitted_model():
    X, y = _series()
    reg = LSTMRegressor(**SMALL, n_estimators=2).fit(X, y)
    before = reg.predict(X, return_std=True)
    reg.set_params(y_scaler=None, learning_rate_init=1e3)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y * 1e30)
    for kept, expected in zip(reg.predict(X, return_std=True), before):
        np.testing.assert_array_equal(kept, expected)


def test_pickle_round_trip_is_bit_identical():
    X, y = _series()
    reg = LSTMRegressor(**SMALL, n_estimators=3).fit(X, y)
    loaded = pickle.loads(pickle.dumps(reg))
    expected = reg.predict(X, return_std=True)
    for got, want in zip(loaded.predict(X, return_std=True), expected):
        np.testing.assert_array_equal(got, want)


def test_quantile_loss_is_the_pinball_loss():
    from sklstm._training import batch_loss

    settings = LoopSettings(
        "quantile", 1.0, 16, True, None, 0.0, np.inf, False, 0, quantile=0.9
    )
    pred = torch.tensor([[0.0], [2.0]])
    y = torch.tensor([[1.0], [1.0]])
    # Under-prediction costs 0.9 per unit, over-prediction 0.1.
    assert batch_loss(settings, pred, y, None).item() == pytest.approx((0.9 + 0.1) / 2)


def test_quantile_models_bracket_the_target():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(400, 1))
    y = X[:, 0] + rng.standard_normal(400) * 0.3
    params = dict(
        sequence_length=1,
        hidden_size=8,
        num_layers=1,
        max_iter=40,
        learning_rate_init=1e-2,
        n_iter_no_change=np.inf,
        loss="quantile",
        random_state=0,
    )
    low = LSTMRegressor(**params, quantile=0.1).fit(X, y).predict(X)
    high = LSTMRegressor(**params, quantile=0.9).fit(X, y).predict(X)
    below, above = np.mean(y < low), np.mean(y > high)
    assert 0.03 < below < 0.2 and 0.03 < above < 0.2
    assert 0.65 < np.mean((low <= y) & (y <= high)) < 0.92
