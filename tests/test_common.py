"""scikit-learn's estimator checks: our conformance suite."""

from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklstm import LSTMRegressor

_WINDOWING = (
    "each prediction depends on the rows before it in the same X (its window), "
    "so predicting a subset or a reordering of X changes the windows"
)
EXPECTED_FAILED_CHECKS = {
    "check_methods_subset_invariance": _WINDOWING,
    "check_methods_sample_order_invariance": _WINDOWING,
    "check_sample_weight_equivalence_on_dense_data": (
        "integer weights cannot equal repeated rows: repeating a row changes the "
        "windows of the rows after it and the composition of shuffled mini-batches"
    ),
}

# Rows are independent with window="columns"; only stochastic training is left.
EXPECTED_FAILED_CHECKS_COLUMNS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "shuffled mini-batch training: 15 weighted rows and their 30 repeats make "
        "mini-batches of different composition and number, so the fits differ "
        "beyond the check's rtol=1e-7 (scikit-learn expects the same of "
        "SGDRegressor)"
    ),
}

ESTIMATORS = [
    LSTMRegressor(random_state=0),
    LSTMRegressor(
        sequence_length=3,
        hidden_size=8,
        num_layers=1,
        max_iter=40,
        learning_rate_init=0.01,
        shuffle=False,
        n_iter_no_change=float("inf"),
        random_state=0,
    ),
    # Each row its own window. One lag per variable, since the checks' X
    # have any width.
    LSTMRegressor(1, window="columns", random_state=0),
    # A deep ensemble: the stacked network and the members' mean.
    LSTMRegressor(n_estimators=3, random_state=0),
]


def _expected_failed_checks(estimator):
    if estimator.window == "columns":
        return EXPECTED_FAILED_CHECKS_COLUMNS
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("LSTMRegressor", LSTMRegressor())


def test_dataframe_column_names_consistency():
    check_dataframe_column_names_consistency("LSTMRegressor", LSTMRegressor(max_iter=5))
