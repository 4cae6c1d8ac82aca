"""Bootstrap intervals, paired tests and the Holm correction on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from harness.report.significance import bootstrap_ci, compare_to_best, format_p, holm, paired_test


def test_bootstrap_ci_contains_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small = rng.random(100)
    large = rng.random(10_000)
    lo_s, hi_s = bootstrap_ci(small, seed=3)
    lo_l, hi_l = bootstrap_ci(large, seed=3)
    assert lo_s < small.mean() < hi_s
    assert lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5  # width ~ 1/sqrt(n): 10x narrower expected


def test_bootstrap_ci_is_seeded_and_constant_data_has_zero_width() -> None:
    v = np.random.default_rng(0).random(50)
    assert bootstrap_ci(v, seed=7) == bootstrap_ci(v, seed=7)
    assert bootstrap_ci(np.full(20, 0.25)) == (0.25, 0.25)


def test_identical_systems_are_not_different() -> None:
    v = np.random.default_rng(2).random(500)
    assert paired_test(v, v) == 1.0
    res = compare_to_best({"a": v, "b": v.copy()})
    assert not any(r["significant"] for r in res.values())


def test_dominating_system_is_significant() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(300)
    better = base + 0.05 + 0.01 * rng.random(300)
    assert paired_test(better, base) < 1e-10
    res = compare_to_best({"base": base, "better": better})
    assert res["better"]["best"] == "better"
    assert res["base"]["significant"] is True


def test_lower_is_better_picks_the_minimum() -> None:
    res = compare_to_best(
        {"a": np.array([1.0, 2.0]), "b": np.array([5.0, 6.0])}, higher_is_better=False
    )
    assert res["a"]["best"] == "a"


def test_holm_matches_hand_computation() -> None:
    adj = holm({"x": 0.01, "y": 0.04, "z": 0.03})
    # sorted: x 0.01*3 = 0.03; z 0.03*2 = 0.06; y max(0.06, 0.04*1) = 0.06
    assert adj == pytest.approx({"x": 0.03, "z": 0.06, "y": 0.06})
    assert holm({"a": 0.6, "b": 0.7}) == pytest.approx({"a": 1.0, "b": 1.0})


def test_paired_test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        paired_test(np.zeros(3), np.zeros(4))


def test_format_p_never_prints_zero() -> None:
    big = np.arange(1, 4001, dtype=np.float64)
    p = paired_test(big, np.zeros_like(big))  # a dominating system: p underflows
    assert format_p(p) == "p<1e-16"
    assert format_p(0.0312, "p_holm") == "p_holm=0.031"
    assert format_p(1.0) == "p=1"
