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
]


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("LSTMRegressor", LSTMRegressor())


def test_dataframe_column_names_consistency():
    check_dataframe_column_names_consistency("LSTMRegressor", LSTMRegressor(max_iter=5))
