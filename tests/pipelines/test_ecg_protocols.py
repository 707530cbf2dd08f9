"""pipelines/ecg.py: the MIT-BIH protocols (de Chazal's DS1 -> DS2, the patient-specific scheme) share
no patient between training and test, the RR features pass the preprocessing untouched, and EC57
figures are aggregated over seeds and records as the papers do. No protocol is run here (they take
tens of minutes); ``python -m pipelines ecg --dataset mitdb:de_chazal`` runs one."""

import re

import numpy as np
import pytest

pytest.importorskip("yaml")
pytest.importorskip("wfdb")

from pipelines.config import DEFAULT_CONFIG, ConfigError, load_config  # noqa: E402
from sk1dcnn.datasets import find_shared_data  # noqa: E402

_FULL = find_shared_data("mitdb")
needs_full_records = pytest.mark.skipif(
    _FULL is None or not (_FULL / "234.hea").is_file(),
    reason="full MIT-BIH records ($SK1DCNN_DATA/mitdb) absent")


def _cfg(name, quick=False, **data):
    return load_config(DEFAULT_CONFIG, quick=quick, overrides={"ecg": {"data": {"name": name, **data}}})


def test_de_chazal_lists_are_the_44_non_paced_records_split_in_two():
    from sk1dcnn.ecg import DE_CHAZAL_DS1, DE_CHAZAL_DS2, MITDB_RECORDS, PACED_RECORDS

    assert len(DE_CHAZAL_DS1) == len(DE_CHAZAL_DS2) == 22
    assert not set(DE_CHAZAL_DS1) & set(DE_CHAZAL_DS2)
    assert not (set(DE_CHAZAL_DS1) | set(DE_CHAZAL_DS2)) & set(PACED_RECORDS)
    assert sorted(DE_CHAZAL_DS1 + DE_CHAZAL_DS2 + PACED_RECORDS) == list(MITDB_RECORDS)
    assert len(MITDB_RECORDS) == 48


def test_de_chazal_needs_the_full_database():
    from pipelines.ecg import load_data

    cfg = _cfg("mitdb:de_chazal", data_dir=None)
    with pytest.raises(ConfigError, match=r"ecg\.data\.data_dir: mitdb:de_chazal needs MIT-BIH record\(s\) "
                                          r"103 105 108 .*not in the ten 5-minute excerpts.*'shared'"):
        load_data(cfg["data"])


def test_inter_patient_on_shipped_records_shares_no_patient_and_keeps_rr_untouched():
    """The quick run's split (DS1 and DS2 records among the shipped ones) and its pipeline."""
    from pipelines.ecg import build_pipeline, load_data, pipeline_grid
    from sk1dcnn.ecg import DE_CHAZAL_DS1, DE_CHAZAL_DS2

    cfg = _cfg("mitdb:inter_patient", quick=True)
    data = load_data(cfg["data"])
    tr, te = set(data.groups_train), set(data.groups_test)
    assert not tr & te and tr <= set(DE_CHAZAL_DS1) and te <= set(DE_CHAZAL_DS2)
    k = data.info["n_static_features"]
    assert k == 7 and data.X_train.shape[1] == data.info["n_timepoints"] + k == 252 + 7
    assert set(np.unique(data.y_train)) <= {"N", "S", "V", "F"}  # classes: training beats only
    pipe = build_pipeline(cfg, data)
    Z = pipe[:-1].fit_transform(data.X_train[:50])
    # the signal is band-passed, resampled to 180 Hz and standardised; the RR features pass through
    assert Z.shape == (50, 126 + 7)
    np.testing.assert_array_equal(Z[:, -7:], data.X_train[:50, -7:])
    np.testing.assert_allclose(Z[:, :126].mean(axis=1), 0.0, atol=1e-9)
    assert pipe.named_steps["cnn"].n_static_features == 7
    assert set(pipeline_grid(cfg, data)) <= set(pipe.get_params())


@needs_full_records
def test_de_chazal_split_on_the_full_database():
    from pipelines.ecg import load_data
    from sk1dcnn.ecg import DE_CHAZAL_DS1, DE_CHAZAL_DS2

    cfg = _cfg("mitdb:de_chazal", data_dir="shared", rr_features=False, subsample_normal=None)
    data = load_data(cfg["data"])
    assert set(data.groups_train) == set(DE_CHAZAL_DS1) and set(data.groups_test) == set(DE_CHAZAL_DS2)
    assert len(data.y_train) == 50994  # DS1 without its 8 Q beats, windows inside the records
    assert {c: int(np.sum(data.y_test == c)) for c in "SV"} == {"S": 1837, "V": 3220}
    # the configured run keeps a fifth of each training record's N beats, every other beat
    sub = load_data(_cfg("mitdb:de_chazal", data_dir="shared", rr_features=False)["data"])
    assert cfg["data"]["subsample_normal"] is None and sub.info["subsample_normal"] == 0.2
    for rec in DE_CHAZAL_DS1:
        n_all = np.sum((data.groups_train == rec) & (data.y_train == "N"))
        assert np.sum((sub.groups_train == rec) & (sub.y_train == "N")) == round(0.2 * n_all)
    np.testing.assert_array_equal(sub.y_train[sub.y_train != "N"], data.y_train[data.y_train != "N"])
    np.testing.assert_array_equal(sub.y_test, data.y_test)


def test_patient_specific_shortened_on_shipped_excerpts_shares_no_patient():
    """Each patient's test beats are its own, after its training minutes; the common beats come
    from other non-paced records 100-124 only."""
    from pipelines.ecg import load_data

    cfg = _cfg("mitdb:patient_specific", quick=True, train_minutes=2.5, rr_features=False,
               records=["100", "118", "232"])
    data = load_data(cfg["data"])
    pos, rec = data.info["positions"], data.groups_train
    assert data.info["common_records"] == "100 101 106 118 119"
    for patient, (tr, te) in data.info["splits"].items():
        own = rec[tr] == patient
        assert set(rec[te]) == {patient}
        assert pos[tr][own].max() < 2.5 * 60 * 360 <= pos[te].min()
        others = set(rec[tr][~own])
        assert patient not in others and others <= {"100", "101", "106", "118", "119"}


@needs_full_records
def test_patient_specific_uses_the_44_non_paced_records():
    from pipelines.ecg import load_data
    from sk1dcnn.ecg import PACED_RECORDS

    cfg = _cfg("mitdb:patient_specific", data_dir="shared", rr_features=False, n_common_per_class=5)
    data = load_data(cfg["data"])
    assert len(data.info["patients"]) == 44 and not set(data.info["patients"]) & set(PACED_RECORDS)
    assert not set(data.groups_train) & set(PACED_RECORDS)
    assert data.info["common_records"].split() == [
        "100", "101", "103", "105", "106", "108", "109", "111", "112", "113", "114", "115", "116", "117",
        "118", "119", "121", "122", "123", "124"]


@needs_full_records
def test_record_114_reads_mlii():
    from pipelines.ecg import _load_mitdb
    from sk1dcnn.ecg import load_wfdb_record

    ds = {"lead": "MLII", "channel": 0, "before": 0.25, "after": 0.45, "rr_features": False}
    X, y, _, pos = _load_mitdb(["114"], _FULL, ds)
    r = load_wfdb_record(_FULL / "114")
    assert r.channel_names == ("V5", "MLII")
    i = pos[0]
    np.testing.assert_array_equal(X[0], r.signal[1, i - 90:i + 162])


# ------------------------------------------------------------------ EC57 over seeds and records
def test_ec57_gross_is_the_mean_over_seeds_and_sums_the_chosen_records():
    from pipelines.ecg import ec57_gross
    from sk1dcnn.ecg import ec57_report

    y = np.array(list("NNNNSSVVNN" + "NNVVVSNNNN"))
    rec = np.array(["100"] * 10 + ["200"] * 10)
    p1 = np.array(list("NNNSSNVVNN" + "NNVVNSNNNV"))
    p2 = np.array(list("NNNNSSVNNN" + "NSVVVSNNNN"))
    reports = [ec57_report(y, p, rec) for p in (p1, p2)]
    g = ec57_gross(reports)
    for c in "NSV":
        for m in ("Se", "+P", "Acc"):
            assert g[c][m] == pytest.approx(100 * np.mean([r.gross[c][m] for r in reports]))
    assert g["n_records"] == 2 and g["n_beats"] == 20
    # the records-200 subset: the same as scoring that record's beats alone
    sub = ec57_gross(reports, records=["200"])
    alone = [ec57_report(y[rec == "200"], p[rec == "200"]) for p in (p1, p2)]
    assert sub["V"]["Se"] == pytest.approx(100 * np.mean([r.gross["V"]["Se"] for r in alone]))
    assert sub["S"]["+P"] == pytest.approx(100 * np.mean([r.gross["S"]["+P"] for r in alone]))
    assert sub["n_records"] == 1 and sub["n_beats"] == 10
    # by hand: seed 1, V: TP 4, FN 1 (a V called N in record 200), FP 1 (an N called V)
    assert reports[0].gross["V"]["Se"] == pytest.approx(4 / 5) and reports[0].gross["V"]["+P"] == 0.8


# ------------------------------------------------------------------ patient-specific inner validation
def test_ec57_f1_sv_by_hand():
    """The mean F1 of SVEB and VEB from EC57 counts: a reference F beat called V is no false positive
    (f1_sv, one class against the rest, counts it)."""
    from pipelines.ecg import ec57_f1_sv, pooled_score

    y = np.array(list("NNSSVVF"))
    p = np.array(list("NSSNVVV"))
    # V: TP 2, FN 0, FP 0 (the F called V is not counted) -> F1 1; S: TP 1, FN 1, FP 1 -> F1 2/4
    assert ec57_f1_sv(y, p) == pytest.approx((1 + 0.5) / 2)
    # one against the rest the F called V is a false positive: F1(V) = 4 / 5
    assert pooled_score("f1_sv", y, p) == pytest.approx((0.8 + 0.5) / 2)
    # a class with no beat and no detection scores 0, as f1_sv's zero_division
    assert ec57_f1_sv(np.array(list("NNV")), np.array(list("NNV"))) == pytest.approx(0.5)


def _shipped_patient_specific(**data):
    from pipelines.ecg import load_data

    # the shipped 5-minute excerpts, shortened: the patient trains on its first 2 minutes and the
    # inner validation fits on minute 0-1 and scores minute 1-2
    cfg = _cfg("mitdb:patient_specific", quick=True, train_minutes=2, rr_features=False,
               records=["119", "232", "233"], n_common_per_class=10, **data)
    cfg["search"].update(validation="inner_minutes", inner_train_minutes=1.0, n_jobs=1, scoring="ec57_f1_sv")
    return cfg, load_data(cfg["data"])


def test_inner_minutes_split_holds_training_minutes_only():
    """Fitted: the common beats + the patient's beats before inner_train_minutes; scored: the patient's
    beats from there to train_minutes. No beat of the test minutes is in either."""
    from pipelines.ecg import inner_minutes_split

    cfg, data = _shipped_patient_specific()
    pos, rec, fs = data.info["positions"], data.groups_train, data.fs
    for patient, (tr, te) in data.info["splits"].items():
        fit, val = inner_minutes_split(tr, rec, pos, patient, 1.0, fs)
        assert len(val) > 50 and not set(fit) & set(val) and sorted([*fit, *val]) == sorted(tr)
        assert not (set(fit) | set(val)) & set(te)
        assert set(rec[val]) == {patient}
        assert 1 * 60 * fs <= pos[val].min() and pos[val].max() < 2 * 60 * fs  # minute 1-2 only
        own = rec[fit] == patient
        assert pos[fit][own].max() < 1 * 60 * fs
        np.testing.assert_array_equal(np.sort(fit[~own]), np.sort(tr[rec[tr] != patient]))  # the common beats


def test_inner_selection_scores_pooled_counts_and_picks_the_argmax(monkeypatch):
    """Each candidate is scored once on the predictions of all patients pooled (not the mean of the
    patients' scores), from EC57 gross counts; the best is chosen, and each fit sees training
    minutes only. The fits are replaced by fixed predictions (no training here)."""
    from pipelines import ecg
    from pipelines._fitting import Fitted

    cfg, data = _shipped_patient_specific()
    X, y, pos, rec = data.X_train, data.y_train, data.info["positions"], data.groups_train
    row_of = {x.tobytes(): i for i, x in enumerate(X)}
    seen = []

    def fake_fit(pipe, X_fit, y_fit, *, params, X_predict, seed=None):
        fit, val = ([row_of[x.tobytes()] for x in A] for A in (X_fit, X_predict))
        seen.append((fit, val))
        truth = y[val]
        rule = params["cnn__alpha"]
        if rule == 1:      # everything V
            pred = np.full(len(val), "V")
        elif rule == 2:    # the truth, but the first S of each patient called N
            pred = truth.copy()
            pred[np.flatnonzero(truth == "S")[:1]] = "N"
        else:              # everything N
            pred = np.full(len(val), "N")
        return Fitted(None, pred, 0.0)

    monkeypatch.setattr(ecg, "fit_clone", fake_fit)
    candidates = [{"cnn__alpha": a} for a in (1, 2, 3)]
    sel = ecg.select_inner_minutes(cfg, data, ecg.build_pipeline(cfg, data), candidates)

    assert len(seen) == 3 * 3  # candidates x patients
    for fit, val in seen:
        patient = rec[val[0]]
        assert set(rec[val]) == {patient}
        assert pos[val].min() >= 60 * data.fs and pos[val].max() < 2 * 60 * data.fs
        assert pos[fit][rec[fit] == patient].max() < 60 * data.fs
    # by hand from the pooled labels of the three patients' minute 1-2
    y_val = np.concatenate([y[val] for _, val in seen[:3]])
    n = {c: int(np.sum(y_val == c)) for c in "NSVF"}
    assert n["S"] > 3 and n["V"] > 3
    f1_v_all_v = 2 * n["V"] / (2 * n["V"] + n["N"] + n["S"])  # F called V: no false positive
    k = sum(1 for _, val in seen[:3] if np.any(y[val] == "S"))  # S beats called N, one per patient
    f1_s_truth = 2 * (n["S"] - k) / (2 * (n["S"] - k) + k)
    expected = [f1_v_all_v / 2, (1 + f1_s_truth) / 2, 0.0]
    assert [r["score"] for r in sel.rows] == pytest.approx(expected)
    assert sel.best_index == int(np.argmax(expected)) == 1 and sel.best_params == {"cnn__alpha": 2}
    assert [r["rank"] for r in sel.rows] == [2, 1, 3]
    r = sel.rows[0]
    assert (r["tp_V"], r["fn_V"], r["fp_V"]) == (n["V"], 0, n["N"] + n["S"]) and r["se_V"] == 100.0
    assert sel.rows[1]["se_S"] == pytest.approx(100 * (n["S"] - k) / n["S"]) and sel.rows[1]["ppv_S"] == 100.0
    # pooled, not averaged over patients: the mean of the patients' own scores differs
    per_patient = [ecg.pooled_score("ec57_f1_sv", y[val], np.where(y[val] == "S", "N", y[val]))
                   for _, val in seen[3:6]]
    assert sum(sel.n_val.values()) == len(y_val) and sel.rows[1]["score"] != pytest.approx(np.mean(per_patient))


def test_template_features_join_after_the_rr_features_per_record_in_time_order():
    """data.template_features: 3 more static columns, each record's from its own beats (every class)."""
    from pipelines.ecg import build_pipeline, load_data, static_feature_names
    from sk1dcnn.ecg import load_mitdb_beats, template_features

    cfg = _cfg("mitdb:inter_patient", quick=True, template_features=True)
    data = load_data(cfg["data"])
    assert data.info["n_static_features"] == 10
    assert static_feature_names(cfg["data"])[-3:] == ("template_distance", "qrs_distance",
                                                      "template_correlation")
    X, y, g, _ = load_mitdb_beats(["232"])  # a test record, all its beats in time order
    np.testing.assert_allclose(data.X_test[data.groups_test == "232"][:, -3:],
                               template_features(X[:, 0], 360.0, 90), rtol=1e-6)
    # a training record with F and Q beats, which data.classes drops after the features are computed
    kept = ("N", "S", "V")
    cfg3 = _cfg("mitdb:inter_patient", quick=True, template_features=True, classes=list(kept))
    d3 = load_data(cfg3["data"])
    X, y, _, _ = load_mitdb_beats(["208"])
    assert not set(y) <= set(kept)
    np.testing.assert_allclose(d3.X_train[d3.groups_train == "208"][:, -3:],
                               template_features(X[:, 0], 360.0, 90)[np.isin(y, kept)], rtol=1e-6)
    pipe = build_pipeline(cfg, data)
    assert pipe.named_steps["cnn"].n_static_features == 10
    Z = pipe[:-1].fit_transform(data.X_train[:20])
    np.testing.assert_array_equal(Z[:, -10:], data.X_train[:20, -10:])


def test_template_features_are_for_mitdb_only():
    with pytest.raises(ConfigError, match=r"ecg\.data\.template_features: is for MIT-BIH data sets, not ucr:ECG200"):
        _cfg("ucr:ECG200", template_features=True)
    with pytest.raises(ConfigError, match=r"ecg\.data\.template_features: must be true or false, got 'yes'"):
        _cfg("mitdb:inter_patient", template_features="yes")
    with pytest.raises(ConfigError, match=r"ecg\.data\.template_features: mitdb:advance_warning does not read it"):
        _cfg("mitdb:advance_warning", template_features=True)


@pytest.mark.parametrize("name", ["f1_sv", "f1_nsv", "balanced_accuracy", "accuracy"])
def test_class_weighted_scoring_counts_each_kept_n_beat_as_five(name):
    """With data.subsample_normal 0.2 a fold's N beats are weighted 5: the score of the same
    predictions with every N beat repeated five times."""
    from pipelines.ecg import _score_funcs, _scoring

    rng = np.random.default_rng(0)
    y = rng.choice(["N", "S", "V", "F"], size=300, p=[0.5, 0.2, 0.2, 0.1])
    pred = np.where(rng.random(300) < 0.7, y, rng.choice(["N", "S", "V", "F"], size=300))

    from sklearn.base import BaseEstimator, ClassifierMixin

    class Fixed(ClassifierMixin, BaseEstimator):  # "fitted": its predictions are the ones above, by row
        classes_ = np.array(["F", "N", "S", "V"])

        def predict(self, X):
            return pred[np.asarray(X)[:, 0].astype(int)]

    X = np.arange(300)[:, None]
    rep = np.concatenate([np.repeat(np.flatnonzero(y == "N"), 5), np.flatnonzero(y != "N")])
    weighted = _scoring(name, {"N": 5.0})(Fixed(), X, y)
    assert weighted == pytest.approx(_score_funcs()[name](y[rep], pred[rep]), rel=1e-12)
    unweighted = _score_funcs()[name](y, pred)
    if name == "balanced_accuracy":  # the mean recall per class: a weight per class changes nothing
        assert weighted == pytest.approx(unweighted, rel=1e-12)
    else:
        assert weighted != pytest.approx(unweighted, rel=1e-3)


def _blend_cfg(**search):
    # class weights by label: the members must see y as it is (a label-encoding blend broke them)
    return load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {
        "data": {"name": "mitdb:inter_patient", "template_features": True},
        "search": {"static_model": "gradient_boosting", "ensemble": 2, "tune_offsets": "f1_nsv", **search},
        "model": {"max_iter": 2, "class_weight": {"N": 1, "S": 4, "V": 2}}}})


def test_static_model_reads_the_static_columns_only():
    from pipelines.ecg import static_feature_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 13))
    y = np.where(X[:, -2] > 0, "V", "N")  # the class is in a static column
    m = static_feature_model("gradient_boosting", 10, 3, random_state=0).fit(X, y)
    X2 = X.copy()
    X2[:, :10] = rng.normal(size=(120, 10))  # other signal columns: the same probabilities
    np.testing.assert_array_equal(m.predict_proba(X2), m.predict_proba(X))
    assert m.score(X, y) == 1.0
    with pytest.raises(ValueError, match="unknown static model 'forest'; allowed: gradient_boosting"):
        static_feature_model("forest", 10, 3)


def test_refit_blends_the_networks_with_the_static_model_and_saves(tmp_path):
    """search.static_model: the seed reaches the networks, the relevance and epochs read the first
    network, and the blend round-trips through skops as ecg-monitor loads it."""
    import warnings

    from sk1dcnn.model_selection import BlendClassifier

    from pipelines._fitting import cnn_step, first_pipeline, fit_clone
    from pipelines.ecg import build_pipeline, load_data, refit_model
    from sk1dcnn.persistence import dump, load

    cfg = _blend_cfg()
    data = load_data(cfg["data"])
    proto = refit_model(build_pipeline(cfg, data), cfg["search"], data)
    assert isinstance(proto.estimator, BlendClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_clone(proto, data.X_train, data.y_train, seed=7, X_predict=data.X_test,
                        fit_params={"groups": data.groups_train})
    blend = fit.model.estimator_
    nets = blend.named_estimators_["cnn"].estimators_
    assert [n.named_steps["cnn"].random_state for n in nets] == [7, 1007]
    assert first_pipeline(fit.model) is nets[0] and cnn_step(fit.model).n_iter_ == 2
    # soft voting: the mean of the networks' mean and the static model's probabilities
    p = (blend.named_estimators_["cnn"].predict_proba(data.X_test[:50])
         + blend.named_estimators_["static"].predict_proba(data.X_test[:50])) / 2
    np.testing.assert_allclose(blend.predict_proba(data.X_test[:50]), p, rtol=1e-10)
    dump({"pipeline": fit.model}, tmp_path / "m.skops")
    back = load(tmp_path / "m.skops")["pipeline"]
    np.testing.assert_array_equal(back.predict(data.X_test), fit.model.predict(data.X_test))


@pytest.mark.parametrize("over, message", [
    (dict(static_model="forest"), "ecg.search.static_model: unknown static model 'forest'"),
    (dict(), "ecg.search.static_model: gradient_boosting learns from the static columns, and "
             "mitdb:inter_patient has none"),
])
def test_static_model_config_errors(over, message):
    data = {"name": "mitdb:inter_patient"}
    if over:
        data["template_features"] = True
    else:
        data["rr_features"] = False
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {
            "data": data, "search": {"static_model": "gradient_boosting", **over}}})
    with pytest.raises(ConfigError, match=re.escape(
            "ecg.search.static_model: is for the inter-patient refit, not mitdb:patient_specific")):
        load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {
            "data": {"name": "mitdb:patient_specific", "train_minutes": 2.5},
            "search": {"static_model": "gradient_boosting"}}})


def test_single_record_classes_counted_by_hand():
    from pipelines.ecg import single_record_classes

    y = np.array(["N"] * 10 + ["F"] * 4 + ["S"] * 4)
    g = np.array(["a"] * 5 + ["b"] * 5 + ["a", "a", "a", "b"] + ["a", "a", "b", "b"])
    assert single_record_classes(y, g) == {"F": "a"}            # 3 of 4 F beats in one record
    assert single_record_classes(y, g, share=0.8) == {}
    assert single_record_classes(y, g, share=0.5) == {"N": "a", "F": "a", "S": "a"}


def test_refit_fixes_the_offset_of_a_class_that_lives_in_one_record():
    """search.fixed_offset_share: S all in one training record -> its offset is not tuned; null tunes it."""
    from pipelines.ecg import build_pipeline, load_data, offsets_line, refit_model

    cfg = _blend_cfg()
    data = load_data(cfg["data"])
    data.groups_train = np.where(data.y_train == "S", "209", data.groups_train)
    assert refit_model(build_pipeline(cfg, data), cfg["search"], data).fixed_classes == ["S"]
    cfg["search"]["fixed_offset_share"] = None
    assert refit_model(build_pipeline(cfg, data), cfg["search"], data).fixed_classes is None
    line = offsets_line([{"seed": 0, "offset_N": 0.0, "offset_S": 0.0, "offset_V": -0.4, "fixed_classes": "S",
                          "oof_score_without_offsets": 0.5, "oof_score_with_offsets": 0.6}], "f1_nsv")
    assert "S fixed at 0 too" in line and "seed 0: S +0.0, V -0.4 (out-of-fold f1_nsv 0.500 -> 0.600)" in line
    with pytest.raises(ConfigError, match=re.escape("ecg.search.fixed_offset_share: must be a share in (0.5, 1] "
                                                    "or null, got 0.3")):
        _blend_cfg(fixed_offset_share=0.3)
