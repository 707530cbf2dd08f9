"""The training loop (sk1dcnn._training): one step, the end of an epoch, the
divergence message, sklearn's no-improvement rule, the adaptive rate, and
which arguments go to the optimizer and which to the schedule."""

import re
import sys

import numpy as np
import pytest

from sk1dcnn import CNN1DClassifier, _training
from sk1dcnn._training import (
    EXPLODED,
    DivergedError,
    OptimizerConfig,
    TrainingConfig,
    TrainingState,
    _end_epoch,
    _epoch_line,
    _epoch_rate,
    _Run,
    _train_step,
    _update_no_improvement,
    diverged_error,
    format_duration,
    make_optimizer,
    train,
)
from sk1dcnn.nn.layers import Dense
from sk1dcnn.nn.network import Sequential
from sk1dcnn.nn.optim import AdamOptimizer, SGDOptimizer

D = 5


def linear_net(seed=0):
    """A linear model ``X @ W + b``, whose gradients are written out by hand below."""
    net = Sequential([Dense(1)])
    net.build((D,), np.random.RandomState(seed), np.float64)
    return net


def make_run(n=12, validation=None, on_epoch_end=None, sigint=None, **cfg_kw):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, D))
    Y = rng.standard_normal((n, 1))
    w = np.ones(n)
    cfg = TrainingConfig(**{"loss": "squared_error", "batch_size": 4, "alpha": 0.0,
                            "optimizer_config": OptimizerConfig(solver="sgd", momentum=0.0),
                            "learning_rate_init": 0.1, **cfg_kw})
    net = linear_net()
    state = TrainingState(optimizer=make_optimizer(net.params(), cfg.learning_rate_init,
                                                   cfg.optimizer_config))
    state.adaptive_lr = cfg.learning_rate_init
    return _Run(net, X, Y, w, cfg, state, np.random.default_rng(1), validation, on_epoch_end,
                sigint)


def by_hand(W, b, xb, yb, wb):
    """Loss and gradients of the half squared error of a linear model."""
    wn = wb / wb.sum()
    diff = xb @ W + b - yb
    loss = float(0.5 * (diff[:, 0] ** 2) @ wn)
    dZ = diff * wn[:, None]
    return loss, xb.T @ dZ, dZ.sum(axis=0)


# ------------------------------------------------------------------- a step
def test_train_step_is_forward_loss_backward_update():
    run = make_run()
    W, b = (p.copy() for p in run.net.params())
    xb, yb, wb = run.X[:4], run.Y[:4], np.array([1.0, 2.0, 1.0, 0.5])
    loss = _train_step(run, xb, yb, wb, float(wb.sum()))
    ref_loss, gW, gb = by_hand(W, b, xb, yb, wb)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(run.net.params()[0], W - 0.1 * gW, rtol=1e-12)
    np.testing.assert_allclose(run.net.params()[1], b - 0.1 * gb, rtol=1e-12)
    assert run.state.t == 4


def test_train_step_adds_the_l2_penalty_to_kernels_only():
    run = make_run(alpha=0.3)
    W, b = (p.copy() for p in run.net.params())
    xb, yb, wb = run.X[:4], run.Y[:4], np.ones(4)
    loss = _train_step(run, xb, yb, wb, 4.0)
    ref_loss, gW, gb = by_hand(W, b, xb, yb, wb)
    # scikit-learn's scaling: alpha / 2 * |W|^2 / batch size, gradient alpha / m * W
    assert loss == pytest.approx(ref_loss + 0.5 * 0.3 * np.sum(W * W) / 4, rel=1e-12)
    np.testing.assert_allclose(run.net.params()[0], W - 0.1 * (gW + 0.3 / 4 * W), rtol=1e-12)
    np.testing.assert_allclose(run.net.params()[1], b - 0.1 * gb, rtol=1e-12)  # no penalty


@pytest.mark.parametrize("clip_norm", [1e-3, 1e3])
def test_train_step_clips_the_global_gradient_norm(clip_norm):
    run = make_run(clip_norm=clip_norm)
    W, b = (p.copy() for p in run.net.params())
    xb, yb, wb = run.X[:4], run.Y[:4], np.ones(4)
    _train_step(run, xb, yb, wb, 4.0)
    _, gW, gb = by_hand(W, b, xb, yb, wb)
    norm = np.sqrt(np.sum(gW * gW) + np.sum(gb * gb))
    scale = min(1.0, clip_norm / norm)
    step = np.sqrt(np.sum((run.net.params()[0] - W) ** 2) + np.sum((run.net.params()[1] - b) ** 2))
    assert step == pytest.approx(0.1 * norm * scale, rel=1e-10)
    assert (step < 0.1 * norm) == (clip_norm < norm)


# ------------------------------------------------------------ end of epoch
def test_end_epoch_records_history_and_calls_back():
    calls = []
    run = make_run(on_epoch_end=lambda net, state, rng: calls.append((net, state.epoch, rng)))
    assert _end_epoch(run, 0.1, 0.5, t0=0.0, interrupted=False) is False
    state = run.state
    assert state.epoch == state.epoch_of_fit == 1 and state.loss_curve == [0.5]
    record = state.history[0]
    assert {k: record[k] for k in ("epoch", "train_loss", "valid_loss", "valid_score",
                                   "learning_rate")} == {
        "epoch": 1, "train_loss": 0.5, "valid_loss": None, "valid_score": None,
        "learning_rate": 0.1}
    assert record["dur"] > 0 and "partial" not in record
    assert calls == [(run.net, 1, run.rng)]
    # no deferred Ctrl-C (sigint None): a restore point of the completed epoch
    for a, b in zip(state.last_epoch_weights, run.net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_end_epoch_with_validation_and_verbose(capsys):
    run = make_run(validation=lambda: (0.25, 0.75), verbose=True)
    _end_epoch(run, 0.1, 0.5, t0=0.0, interrupted=False)
    record = run.state.history[0]
    assert (record["valid_loss"], record["valid_score"]) == (0.25, 0.75)
    assert run.state.validation_scores == [0.75]
    out = capsys.readouterr().out
    assert re.fullmatch(r"Epoch 1/200: train_loss=0\.500000, valid_loss=0\.250000, "
                        r"valid_score=0\.750000, lr=0\.1, [\d.]+ s, ETA \d+:\d\d\n", out)
    line = _epoch_line({**record, "valid_loss": None, "dur": 0.5}, "Epoch 1", eta=None)
    assert line == "Epoch 1: train_loss=0.500000, lr=0.1, 0.50 s"


def test_an_interrupted_epoch_is_recorded_as_partial_and_stops():
    calls = []
    run = make_run(on_epoch_end=lambda *a: calls.append(a), sigint={"hit": True})
    assert _end_epoch(run, 0.1, 0.5, t0=0.0, interrupted=True) is True
    assert run.state.history[-1]["partial"] is True and run.state.interrupted
    assert calls == []  # no checkpoint of half an epoch
    assert run.state.last_epoch_weights is None


# ------------------------------------------------------------- divergence
def test_one_divergence_message():
    err = diverged_error("the loss", float("nan"), 3, "learning rate 0.5", 0.5)
    assert isinstance(err, DivergedError) and isinstance(err, ValueError)
    assert str(err) == ("Training diverged: the loss became nan at epoch 3 (learning rate 0.5). "
                        "Lower learning_rate_init (now 0.5), e.g. to 0.05, set clip_norm, or "
                        "standardize X and y.")


@pytest.mark.parametrize("loss, v_loss, what", [(np.inf, 0.1, "the loss became inf at epoch 1"),
                                                (0.5, np.nan,
                                                 "the validation loss became nan at epoch 1")])
def test_end_epoch_raises_on_a_non_finite_loss(loss, v_loss, what):
    run = make_run(validation=lambda: (v_loss, 0.0))
    with pytest.raises(DivergedError, match=re.escape(f"Training diverged: {what} "
                                                      "(learning rate 0.1). Lower")):
        _end_epoch(run, 0.1, loss, t0=0.0, interrupted=False)


def test_train_raises_when_the_final_weights_are_not_finite():
    """Checked after the epochs too: here none runs (a finished fit's state)."""
    run = make_run()
    run.net.params()[0][0, 0] = np.inf
    with pytest.raises(DivergedError, match=re.escape(
            "the network's weights or outputs became infinite or NaN at epoch 0 "
            "(last epoch loss nan). Lower learning_rate_init (now 0.1), e.g. to 0.01")):
        train(run.net, run.X, run.Y, run.w, TrainingConfig(loss="squared_error", max_iter=1,
                                                           learning_rate_init=0.1),
              TrainingState(converged=True), run.rng)


# --------------------------------------------------------- stopping rules
def test_no_improvement_rule_on_the_training_loss():
    """scikit-learn's rule: stop once more than n_iter_no_change epochs in a row
    failed to beat the best loss by tol."""
    cfg = TrainingConfig(loss="squared_error", tol=0.1, n_iter_no_change=2)
    state = TrainingState()
    losses = [1.0, 0.95, 0.5, 0.45, 0.44, 0.43]
    stops = [_update_no_improvement(state, cfg, None, loss, False) for loss in losses]
    assert stops == [False, False, False, False, False, True]
    assert state.best_loss == 0.43 and state.no_improvement_count == 3


def test_no_improvement_rule_on_the_validation_score_keeps_the_best_weights():
    cfg = TrainingConfig(loss="squared_error", tol=0.0, n_iter_no_change=1)
    net = linear_net()
    state = TrainingState()
    for loss, score in [(1.0, 0.5), (0.9, 0.8), (0.8, 0.7), (0.7, 0.6)]:
        state.validation_scores.append(score)
        if score == 0.8:  # the best epoch
            best = net.get_weights()
        stop = _update_no_improvement(state, cfg, net, loss, True)
        net.params()[0][...] += 1.0  # the weights move on
    assert stop is True and state.best_validation_score == 0.8
    for a, b in zip(state.best_weights, best):
        np.testing.assert_array_equal(a, b)
    assert state.best_loss == 0.7


def test_adaptive_rate_divides_by_five_then_stops(capsys):
    run = make_run(learning_rate="adaptive", tol=1.0, n_iter_no_change=0, verbose=True)
    run.state.adaptive_lr = 1e-5
    run.state.best_loss = 0.5
    assert _end_epoch(run, 1e-5, 0.5, t0=0.0, interrupted=False) is False  # stalled: 1e-5 / 5
    assert run.state.adaptive_lr == pytest.approx(2e-6) and run.state.no_improvement_count == 0
    assert _epoch_rate(run.cfg, run.state) == run.state.adaptive_lr
    assert _end_epoch(run, 2e-6, 0.5, t0=0.0, interrupted=False) is False  # 2e-6 > 1e-6: / 5
    assert _end_epoch(run, 4e-7, 0.5, t0=0.0, interrupted=False) is True  # below 1e-6: stop
    assert run.state.converged
    out = capsys.readouterr().out
    assert "Setting learning rate to 0.000002" in out
    assert "Training loss did not improve more than tol=1.0 for 0 consecutive epochs." in out


def test_partial_fit_never_stops_on_no_improvement():
    run = make_run(incremental=True, tol=1.0, n_iter_no_change=0)
    for loss in (0.5, 0.6, 0.7):
        assert _end_epoch(run, 0.1, loss, t0=0.0, interrupted=False) is False
    assert run.state.best_loss == 0.5 and not run.state.converged


# ------------------------------------------- optimizer and schedule arguments
def test_optimizer_config_goes_to_the_optimizer():
    params = linear_net().params()
    sgd = make_optimizer(params, 0.2, OptimizerConfig(solver="sgd", momentum=0.5,
                                                      nesterovs_momentum=False))
    assert isinstance(sgd, SGDOptimizer)
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.2, 0.5, False)
    adam = make_optimizer(params, 0.3, OptimizerConfig(beta_1=0.8, beta_2=0.99, epsilon=1e-6))
    assert isinstance(adam, AdamOptimizer)
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.3, 0.8, 0.99, 1e-6)


def test_schedule_gets_only_its_own_arguments():
    est = CNN1DClassifier(learning_rate="step", lr_decay_rate=0.1, lr_decay_steps=2, power_t=0.9,
                          momentum=0.1, max_iter=9)
    cfg = est._training_config("binary_crossentropy", 100, False, {})
    assert cfg.schedule_kw == {"lr_decay_rate": 0.1, "lr_decay_steps": 2}
    assert cfg.optimizer_config == OptimizerConfig(solver="adam", momentum=0.1)
    state = TrainingState(epoch=4)
    assert _epoch_rate(cfg, state) == pytest.approx(1e-3 * 0.1**2)
    cosine = est.set_params(learning_rate="cosine")._training_config("hinge", 100, False, {})
    assert cosine.schedule_kw == {"max_iter": 9}
    assert est.set_params(learning_rate="adaptive")._training_config(
        "hinge", 100, False, {}).schedule_kw == {}


def test_a_whole_epoch_loss_is_the_weighted_mean_of_its_batches():
    run = make_run(max_iter=1, shuffle=False)
    W, b = (p.copy() for p in run.net.params())
    losses = []
    for start in range(0, 12, 4):  # three batches of 4, updated in turn
        xb, yb = run.X[start:start + 4], run.Y[start:start + 4]
        loss, gW, gb = by_hand(W, b, xb, yb, np.ones(4))
        losses.append(loss)
        W, b = W - 0.1 * gW, b - 0.1 * gb
    train(run.net, run.X, run.Y, run.w, run.cfg, run.state, run.rng)
    assert run.state.loss_curve == pytest.approx([np.mean(losses)], rel=1e-12)
    np.testing.assert_allclose(run.net.params()[0], W, rtol=1e-12)


# ------------------------------------------------------- exploding loss
def test_end_epoch_raises_on_a_finite_loss_that_exploded():
    run = make_run()
    run.first_loss = 0.5
    assert _end_epoch(run, 0.1, EXPLODED * 0.5, t0=0.0, interrupted=False) is False  # not over it
    with pytest.raises(DivergedError, match=re.escape(
            "Training diverged: the loss became 6e+05, over 1e+06 times its first value 0.5, at "
            "epoch 2 (learning rate 0.1). Lower learning_rate_init (now 0.1), e.g. to 0.01, set "
            "clip_norm, or standardize X and y.")):
        _end_epoch(run, 0.1, 6e5, t0=0.0, interrupted=False)


def test_adam_at_a_huge_learning_rate_is_caught_though_its_loss_stays_finite():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 24))
    y = (X[:, :12].sum(axis=1) > 0).astype(int)
    clf = CNN1DClassifier(filters=(4,), hidden_layer_sizes=(8,), max_iter=5, learning_rate_init=1e6,
                          random_state=0)
    with pytest.raises(DivergedError, match=r"Training diverged: the loss became [\d.e+]+, over "
                       r"1e\+06 times its first value [\d.]+, at epoch 1 \(learning rate 1e\+06\)\. "
                       r"Lower learning_rate_init \(now 1e\+06\), e\.g\. to 100000"):
        clf.fit(X, y)
    assert not hasattr(clf, "network_")  # a failed fit publishes nothing


# ---------------------------------------------------------------- progress
from _progress import FakeClock, Terminal  # noqa: E402


def test_format_duration():
    assert [format_duration(s) for s in (0, 7.4, 59.6, 754, 3723, -1)] == [
        "0:00", "0:07", "1:00", "12:34", "1:02:03", "0:00"]


def run_with_clock(monkeypatch, n, **cfg_kw):
    monkeypatch.setattr(_training, "_clock", FakeClock())
    run = make_run(n=n, **cfg_kw)
    train(run.net, run.X, run.Y, run.w, run.cfg, run.state, run.rng)
    return run


def test_verbose_epoch_lines_count_the_epochs_of_max_iter_with_an_eta(monkeypatch, capsys):
    # the clock is read at: the call's start, then per epoch its start, the batch counter's
    # start, one batch, the epoch's end and the ETA: 3 s per epoch, ETA = mean x epochs left
    run_with_clock(monkeypatch, 12, batch_size=12, max_iter=3, tol=0.0, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r"train_loss=[\d.]+", "train_loss=L", ln) for ln in lines] == [
        "Epoch 1/3: train_loss=L, lr=0.1, 3.00 s, ETA 0:10",
        "Epoch 2/3: train_loss=L, lr=0.1, 3.00 s, ETA 0:05",
        "Epoch 3/3: train_loss=L, lr=0.1, 3.00 s, ETA 0:00"]


def test_a_slow_epoch_shows_a_batch_counter_in_sparse_lines_off_a_terminal(monkeypatch, capsys):
    # 13 batches, one second each: shown from 2 s into the epoch, then every 10 s; not the last
    run_with_clock(monkeypatch, 52, batch_size=4, max_iter=1, verbose=1)
    lines = [re.sub(r"loss [\d.]+", "loss L", ln) for ln in capsys.readouterr().out.splitlines()]
    assert lines[:2] == [
        "Epoch 1/1, batch  2/13 [===>................] 0:02 elapsed, ETA 0:11, loss L",
        "Epoch 1/1, batch 12/13 [==================>.] 0:12 elapsed, ETA 0:01, loss L"]
    assert len(lines) == 3 and lines[2].startswith("Epoch 1/1: train_loss=")


def test_on_a_terminal_the_batch_counter_is_one_line_redrawn_then_cleared(monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    run_with_clock(monkeypatch, 52, batch_size=4, max_iter=1, verbose=1)
    out = term.getvalue()
    draws = out.split("\r")[1:-2]  # then the clearing blanks, then the epoch line
    assert [d.split(" [")[0] for d in draws] == [f"Epoch 1/1, batch {i:>2}/13" for i in range(2, 13)]
    assert out.count("\n") == 1 and out.split("\r")[-2].strip() == ""
    assert out.split("\r")[-1].startswith("Epoch 1/1: train_loss=")


def test_verbose_2_counts_batches_from_the_first(monkeypatch, capsys):
    run_with_clock(monkeypatch, 8, batch_size=4, max_iter=1, verbose=2)
    assert capsys.readouterr().out.startswith("Epoch 1/1, batch 1/2 [==========>.........] 0:01 ")


def test_partial_fit_lines_have_no_total_and_no_eta(monkeypatch, capsys):
    run_with_clock(monkeypatch, 12, batch_size=12, verbose=1, incremental=True)
    assert re.fullmatch(r"Epoch 1: train_loss=[\d.]+, lr=0\.1, 3\.00 s\n", capsys.readouterr().out)


def test_printing_progress_draws_no_random_numbers(capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 16))
    y = np.arange(30) % 2
    kw = dict(filters=(4,), hidden_layer_sizes=(8,), dropout=0.3, batch_size=4, max_iter=3,
              augment={"time_shift": 0.1}, random_state=0)
    quiet = CNN1DClassifier(**kw).fit(X, y)
    loud = CNN1DClassifier(**kw, verbose=2).fit(X, y)
    assert capsys.readouterr().out.count("Epoch 3/3") >= 1
    for a, b in zip(quiet.network_.get_weights(), loud.network_.get_weights()):
        np.testing.assert_array_equal(a, b)
