"""pipelines/advance_warning.py: the warning scores against hand-counted examples, the personal
training set never holds the person's abnormal beats, the one-class baseline, and a quick run on
the shipped excerpts logged to MLflow."""

import numpy as np
import pytest

from pipelines.advance_warning import (
    QUICK_PROTOCOL,
    monitor_online,
    personal_training_set,
    select_records,
    template_baseline,
    warning_scores,
)
from sk1dcnn.ecg.synthesis import DegradationBank


def test_warning_scores_hand_counted():
    # record A: S onset at beat 2, its first three S beats (2, 4, 5) -> beat 5 warned: detected
    #           V onset at beat 6, its first three V beats (6, 8, 9) -> none warned: missed
    #           4 N beats, one warned (beat 1)
    # record B: S onset at beat 1, warned: detected; 2 N beats, one warned (beat 0)
    # record C: S beats 0-3, only the fourth warned: missed (but it has a first warning, at 3 s)
    y = list("NNSNSSVNVV") + list("NSNS") + list("SSSS")
    p = list("NVNNNSNNNN") + list("SSNN") + list("NNNS")
    g = ["A"] * 10 + ["B"] * 4 + ["C"] * 4
    t = np.r_[np.arange(10), np.arange(4), np.arange(4)].astype(float)
    s = warning_scores(y, p, g, t)
    assert (s["n_onsets"], s["n_detected"]) == (4, 2)
    assert s["warning_detect_first3"] == 0.5
    assert (s["n_false_alarms"], s["n_normal"]) == (2, 6)
    assert s["false_alarm_rate"] == 2 / 6
    assert [(o["record"], o["class"], o["detected"], o["delay_s"]) for o in s["onsets"]] == [
        ("A", "S", True, 3.0), ("A", "V", False, None), ("B", "S", True, 0.0), ("C", "S", False, 3.0)]
    assert s["median_delay_s"] == 3.0
    # delays count to when the decision exists (e.g. the next R peak)
    s = warning_scores(y, p, g, t, decision_times=t + 0.5)
    assert s["median_delay_s"] == 3.5
    # a beat predicted S raises the warning for a V onset too
    s = warning_scores(list("NVVV"), list("NSNN"), ["r"] * 4, np.arange(4.0))
    assert s["warning_detect_first3"] == 1.0 and s["false_alarm_rate"] == 0.0


def test_select_records_needs_abnormal_beats_after_the_training_minutes():
    fs = 1.0
    y = np.array(["N", "V", "N", "N", "N", "S", "N", "N", "V", "N"])
    g = np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c", "c"])
    pos = np.array([0, 30, 400, 0, 100, 400, 0, 100, 350, 400])
    # a: its V is in the first 5 minutes only; b: an S after; c: a V after
    assert select_records(y, g, pos, fs, 5.0, ["a", "b", "c"]) == ["b", "c"]


def test_template_baseline_flags_far_or_premature_beats():
    rng = np.random.default_rng(0)
    template = np.sin(np.linspace(0, np.pi, 20))
    X_tr = template + 0.01 * rng.standard_normal((200, 20))
    rr_tr = np.tile([0.8, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0], (200, 1))
    rr_tr[:, 4] += 0.02 * rng.standard_normal(200)
    X_te = np.vstack([template, 2 * template, template])
    rr_te = np.array([[0.8, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0]] * 2 + [[0.5, 1.1, 0.8, 0.8, 0.62, 1.4, 1.0]])
    assert template_baseline(X_tr, X_te, rr_tr, rr_te).tolist() == ["N", "V", "V"]


def _records_with_nan_abnormal_target(rng, T=64):
    t = np.linspace(-0.5, 0.5, T)
    X, y, g, pos = [], [], [], []
    for rec in ("s1", "s2", "tg"):
        x = np.exp(-(t / (0.03 + 0.01 * len(X) / 40)) ** 2)
        for k, c in enumerate("NNNSNVNNSV" * 2):
            if c == "N":
                b = x + 0.01 * rng.standard_normal(T)
            else:
                b = np.convolve(x, rng.random(7), "same")
            if rec == "tg" and c != "N":
                b = np.full(T, np.nan)  # the person's abnormal beats: never to be read
            X.append(b)
            y.append(c)
            g.append(rec)
            pos.append(k * 30)  # 20 beats over 10 minutes at fs=1
    rr = np.tile([0.8, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0], (len(X), 1))
    return np.array(X), np.array(y), np.array(g), np.array(pos), rr


@pytest.mark.parametrize("use_rr", [True, False])
def test_personal_training_set_has_no_abnormal_beat_of_the_person(use_rr):
    rng = np.random.default_rng(1)
    X, y, g, pos, rr = _records_with_nan_abnormal_target(rng)
    rr[(g == "tg") & (y != "N")] = np.nan  # their RR features too
    others = g != "tg"
    bank = DegradationBank(filter_length=7, n_beat_filters=1, min_normal_beats=2, rr_features=True,
                           random_state=0)
    bank.fit(np.hstack([X[others], rr[others]]), y[others], groups=g[others])
    X_tr, y_tr, scale = personal_training_set(X, y, g, pos, rr, "tg", bank, fs=1.0, train_minutes=5.0,
                                              n_per_filter=2, use_rr=use_rr, random_state=0)
    assert np.isfinite(X_tr).all()
    n_own = int(np.sum((g == "tg") & (y == "N") & (pos < 300)))
    assert (y_tr == "N").sum() == n_own  # real N beats only; every S/V is synthetic
    assert set(y_tr[n_own:]) == {"S", "V"}
    assert X_tr.shape[1] == X.shape[1] + (7 if use_rr else 0)
    np.testing.assert_allclose(X_tr[:n_own, :X.shape[1]] * scale,
                               X[(g == "tg") & (y == "N") & (pos < 300)])


def test_quick_run_on_shipped_excerpts_logs_to_mlflow(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("yaml")
    pytest.importorskip("wfdb")
    from mlflow.tracking import MlflowClient

    from pipelines.config import DEFAULT_CONFIG, load_config
    from pipelines.ecg import run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={
        "tracking": {"uri": uri, "experiment": "test-warn"},
        "ecg": {"data": {"name": "mitdb:advance_warning", "records": ["119", "233"]}}})
    lines = []
    result, logged = run(cfg, out=lines.append)
    text = "\n".join(lines)
    assert result.records == ["119", "233"] and result.protocol == QUICK_PROTOCOL
    assert "Research software, not a medical device." in text
    assert {"baseline", "baseline_max", "adaptive", "synthesis_rr", "synthesis_rr_cal",
            "synthesis_rr_online"} == set(result.gross)
    assert "Held-out records only (1: 233;" in text  # 119 is a development record (DS1)
    assert result.heldout_records == ["233"] and set(result.gross_heldout) == set(result.gross)
    # every scored V onset of the two records is counted once per variant and seed
    assert {r["n_onsets"] for r in result.rows} == {1}
    client = MlflowClient(uri)
    run_ = client.get_run(logged.run_id)
    for k in ("warning_detect_first3", "false_alarm_rate", "median_delay_s", "se_V", "ppv_V",
              "baseline_warning_detect_first3", "baseline_false_alarm_rate",
              "adaptive_warning_detect_first3", "synthesis_rr_online_false_alarm_rate",
              "heldout/synthesis_rr_online_warning_detect_first3"):
        assert k in run_.data.metrics, k
    arts = {a.path for a in client.list_artifacts(logged.run_id)}
    # one figure per record and class (the bank synthesizes S and V for both)
    assert {"per_record.csv", "gross.json", "synthesis_119_S.png", "synthesis_119_V.png",
            "synthesis_233_S.png", "synthesis_233_V.png"} <= arts


def test_monitor_online_learns_only_from_accepted_beats_after_their_window():
    from sk1dcnn import CNN1DClassifier

    rng = np.random.default_rng(3)
    X, y, g, pos, rr = _records_with_nan_abnormal_target(rng)
    others = g != "tg"
    bank = DegradationBank(filter_length=7, n_beat_filters=1, min_normal_beats=2, rr_features=True,
                           random_state=0).fit(np.hstack([X[others], rr[others]]), y[others], groups=g[others])
    X_tr, y_tr, scale = personal_training_set(X, y, g, pos, rr, "tg", bank, fs=1.0, train_minutes=5.0,
                                              n_per_filter=2, use_rr=True, random_state=0)
    clf = CNN1DClassifier(filters=(2,), kernel_size=3, hidden_layer_sizes=(4,), max_iter=2,
                          n_static_features=7, random_state=0).fit(X_tr, y_tr)
    beats = X[others & (y == "N")][:24]                 # 24 monitored beats, one every 3 s
    r7, t = rr[:24], np.arange(24) * 3.0
    ref = clf.predict_proba(np.hstack([beats / scale, r7]))[:, list(clf.classes_).index("N")]
    import copy

    # nothing accepted: the classifier never changes, every window sees the fitted one
    same = copy.deepcopy(clf)
    p, cls = monitor_online(same, beats, r7, t, np.zeros(24, bool), bank, scale, update_every_s=60.0,
                            epochs=2, random_state=0)
    np.testing.assert_allclose(p, 1 - ref)
    assert set(cls) <= {"S", "V"}
    # every beat accepted: the first window (0-60 s, 20 beats) is scored before any update,
    # the second (4 beats) after one
    moved = copy.deepcopy(clf)
    p2, _ = monitor_online(moved, beats, r7, t, np.ones(24, bool), bank, scale, update_every_s=60.0,
                           epochs=2, random_state=0)
    np.testing.assert_allclose(p2[:20], 1 - ref[:20])
    assert not np.allclose(p2[20:], 1 - ref[20:])
    # 9 accepted beats in the first window: fewer than 10, nothing learnt
    nine = np.zeros(24, bool)
    nine[:9] = True
    p3, _ = monitor_online(copy.deepcopy(clf), beats, r7, t, nine, bank, scale, update_every_s=60.0,
                           epochs=2, random_state=0)
    np.testing.assert_allclose(p3, 1 - ref)
    # 12 of the first window's 20 accepted: it learns from those, and differs from learning all 20
    twelve = np.zeros(24, bool)
    twelve[:12] = True
    p4, _ = monitor_online(copy.deepcopy(clf), beats, r7, t, twelve, bank, scale, update_every_s=60.0,
                           epochs=2, random_state=0)
    np.testing.assert_allclose(p4[:20], 1 - ref[:20])
    assert not np.allclose(p4[20:], 1 - ref[20:]) and not np.allclose(p4[20:], p2[20:])
    # no monitored beat at all
    p5, c5 = monitor_online(copy.deepcopy(clf), beats[:0], r7[:0], t[:0], nine[:0], bank, scale,
                            update_every_s=60.0, epochs=2)
    assert p5.shape == c5.shape == (0,)


def test_rhythm_onset_beats_marks_atrial_episodes_the_training_minutes_did_not_have(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    from pipelines.advance_warning import rhythm_onset_beats

    # r1: sinus, then atrial fibrillation from sample 400, flutter from 480, sinus from 520
    wfdb.wrann("r1", "atr", np.array([0, 400, 480, 520]), symbol=["+"] * 4,
               aux_note=["(N", "(AFIB", "(AFL", "(N"], write_dir=str(tmp_path))
    # r2: atrial fibrillation from the start: the training minutes have seen it
    wfdb.wrann("r2", "atr", np.array([0, 450]), symbol=["+"] * 2, aux_note=["(AFIB", "(N"],
               write_dir=str(tmp_path))
    # r3: no annotation file
    groups = np.array(["r1"] * 5 + ["r2"] * 3 + ["r3"] * 2)
    positions = np.array([100, 350, 450, 500, 600, 100, 350, 500, 100, 450])
    mask = rhythm_onset_beats(tmp_path, ["r1", "r2", "r3"], groups, positions, fs=1.0, train_minutes=5.0)
    assert mask.tolist() == [False, False, True, True, False, False, False, False, False, False]
