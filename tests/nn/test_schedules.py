"""Learning-rate schedules against their formulas."""

import math

import numpy as np
import pytest

from sk1dcnn.nn.schedules import SCHEDULES, schedule_arguments, scheduled_rate

FORMULAS = {
    "constant": lambda e, lr0: lr0,
    "adaptive": lambda e, lr0: lr0,  # the training loop divides it; per epoch it is constant
    "invscaling": lambda e, lr0: lr0 / math.sqrt(e + 1),
    "step": lambda e, lr0: lr0 * 0.5 ** (e // 10),
    "exponential": lambda e, lr0: lr0 * math.exp(math.log(0.5) * e / 10),
    "cosine": lambda e, lr0: lr0 * (1 + math.cos(math.pi * min(e, 200) / 200)) / 2,
}


def test_every_schedule_has_a_formula():
    assert set(SCHEDULES) == set(FORMULAS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_schedule_default_formula(name):
    for epoch in [0, 1, 2, 5, 9, 10, 11, 19, 20, 37, 100, 199, 200, 250]:
        got = SCHEDULES[name](epoch, 0.3)
        assert got == pytest.approx(FORMULAS[name](epoch, 0.3), rel=1e-12, abs=1e-15), epoch
        assert scheduled_rate(name, epoch, 0.3) == got


def test_step_schedule_with_arguments():
    kw = dict(lr_decay_rate=0.1, lr_decay_steps=3)
    got = [SCHEDULES["step"](e, 1.0, **kw) for e in range(8)]
    np.testing.assert_allclose(got, [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-12)


def test_exponential_schedule_with_arguments():
    kw = dict(lr_decay_rate=0.1, lr_decay_steps=4)
    assert SCHEDULES["exponential"](0, 2.0, **kw) == pytest.approx(2.0)
    assert SCHEDULES["exponential"](4, 2.0, **kw) == pytest.approx(0.2)
    assert SCHEDULES["exponential"](8, 2.0, **kw) == pytest.approx(0.02)
    assert SCHEDULES["exponential"](2, 2.0, **kw) == pytest.approx(2.0 * 0.1**0.5)


def test_cosine_schedule_with_arguments():
    f = SCHEDULES["cosine"]
    assert f(0, 0.4, max_iter=20) == pytest.approx(0.4)
    assert f(10, 0.4, max_iter=20) == pytest.approx(0.2)
    assert f(5, 0.4, max_iter=20) == pytest.approx(0.2 * (1 + math.sqrt(0.5)))
    assert f(20, 0.4, max_iter=20) == pytest.approx(0.0, abs=1e-15)
    assert f(30, 0.4, max_iter=20) == pytest.approx(0.0, abs=1e-15)
    rates = [f(e, 0.4, max_iter=20) for e in range(21)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_invscaling_schedule_with_power():
    f = SCHEDULES["invscaling"]
    assert f(0, 0.5, power_t=0.25) == pytest.approx(0.5)
    assert f(15, 0.5, power_t=0.25) == pytest.approx(0.25)  # 16 ** 0.25 == 2
    assert f(3, 0.5, power_t=1.0) == pytest.approx(0.125)


def test_schedule_arguments_name_each_schedules_own_parameters():
    assert schedule_arguments("constant") == schedule_arguments("adaptive") == ()
    assert schedule_arguments("invscaling") == ("power_t",)
    assert schedule_arguments("step") == ("lr_decay_rate", "lr_decay_steps")
    assert schedule_arguments("exponential") == ("lr_decay_rate", "lr_decay_steps")
    assert schedule_arguments("cosine") == ("max_iter",)


def test_schedules_reject_unknown_keywords():
    """Each schedule takes only its own arguments: one meant for another schedule
    (or the optimizer) is a TypeError, not silently ignored."""
    kw = dict(power_t=0.5, lr_decay_rate=0.5, lr_decay_steps=10, max_iter=200)
    for name, f in SCHEDULES.items():
        own = {k: kw[k] for k in schedule_arguments(name)}
        assert f(7, 0.1, **own) == pytest.approx(FORMULAS[name](7, 0.1))
        assert scheduled_rate(name, 7, 0.1, **own) == f(7, 0.1, **own)
        for other in sorted(set(kw) - set(own)) + ["momentum"]:
            with pytest.raises(TypeError, match=other):
                f(7, 0.1, **own, **{other: kw.get(other, 0.9)})
            with pytest.raises(TypeError, match=other):
                scheduled_rate(name, 7, 0.1, **own, **{other: kw.get(other, 0.9)})
