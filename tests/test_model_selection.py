"""TunedOffsetsClassifierCV and tune_offsets: decision offsets chosen on out-of-fold predictions."""

import functools
import pickle
import re
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GroupKFold, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk1dcnn import CNN1DClassifier
from sk1dcnn.model_selection import BlendClassifier, SeedEnsembleClassifier, TunedOffsetsClassifierCV, tune_offsets

TINY = dict(filters=(3,), kernel_size=3, hidden_layer_sizes=(4,), max_iter=3)


@parametrize_with_checks([TunedOffsetsClassifierCV(LogisticRegression(), cv=3),
                          SeedEnsembleClassifier(LogisticRegression(), n_estimators=2),
                          BlendClassifier([("lr", LogisticRegression()), ("knn", KNeighborsClassifier())])])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def _shifted_prior_problem(n=20000, rare=0.1, seed=0):
    """1-D Gaussian classes (means 0 and 2, sd 1) drawn with prior 1-rare / rare, and the
    posteriors of a model that assumes equal priors (what balanced class weights learn)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rare).astype(int)
    x = rng.normal(2.0 * y, 1.0)
    lik = np.c_[norm.pdf(x, 0, 1), norm.pdf(x, 2, 1)]
    return y, lik / lik.sum(axis=1, keepdims=True)


def test_tune_offsets_recovers_the_prior_shift_for_accuracy():
    # Bayes: accuracy is best at argmax p_equal(c|x) * prior(c); the rare class's offset
    # against the common one is log(0.1 / 0.9) = -2.197
    y, proba = _shifted_prior_problem()
    offsets, score = tune_offsets(y, proba, np.array([0, 1]), accuracy_score, np.arange(-4, 4.01, 0.1))
    assert offsets[0] == 0.0
    assert offsets[1] == pytest.approx(np.log(0.1 / 0.9), abs=0.25)
    assert score > accuracy_score(y, proba.argmax(1)) + 0.02


def test_tune_offsets_keeps_zero_when_nothing_helps():
    y, proba = _shifted_prior_problem(rare=0.5)
    offsets, _ = tune_offsets(y, proba, np.array([0, 1]), accuracy_score, [-1.0, -0.5, 0.5, 1.0])
    np.testing.assert_array_equal(offsets, [0.0, 0.0])


def test_tune_offsets_reference_class_stays_zero():
    y, proba = _shifted_prior_problem()
    offsets, _ = tune_offsets(y, proba, np.array([0, 1]), accuracy_score, np.linspace(-4, 4, 41), reference=1)
    assert offsets[1] == 0.0 and offsets[0] > 1.0


def _group_memorising_problem(n_groups=120, per_group=5, seed=0):
    """The feature is the group id and each group has one random label: a 1-NN model is
    perfect on groups it has seen and at chance on others."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    labels = rng.integers(0, 2, n_groups)
    return groups[:, None].astype(float), labels[groups], groups


def test_grouped_folds_never_predict_a_group_they_trained_on():
    X, y, groups = _group_memorising_problem()
    leaky = TunedOffsetsClassifierCV(KNeighborsClassifier(1), scoring="accuracy",
                                     cv=KFold(3, shuffle=True, random_state=0)).fit(X, y)
    grouped = TunedOffsetsClassifierCV(KNeighborsClassifier(1), scoring="accuracy",
                                       cv=GroupKFold(3)).fit(X, y, groups=groups)
    assert leaky.base_score_ == 1.0
    assert grouped.base_score_ < 0.75


def _imbalanced(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["N", "S", "V"]), size=n, p=[0.8, 0.1, 0.1])
    centres = {"N": (0.0, 0.0), "S": (1.2, 0.0), "V": (0.0, 1.2)}
    X = np.array([centres[c] for c in y]) + rng.normal(size=(n, 2))
    return X, y


def test_offsets_raise_the_tuned_metric_out_of_fold():
    X, y = _imbalanced()
    metric = functools.partial(f1_score, labels=["S", "V"], average="macro", zero_division=0)
    clf = TunedOffsetsClassifierCV(LogisticRegression(class_weight="balanced"), scoring=metric,
                                   cv=3).fit(X, y)
    assert clf.offsets_[list(clf.classes_).index("N")] == 0.0  # the most frequent class
    assert clf.best_score_ >= clf.base_score_
    assert np.any(clf.offsets_ != 0.0)  # balanced weights overcall S and V at these frequencies
    # the named scoring with labels is the same metric
    named = TunedOffsetsClassifierCV(LogisticRegression(class_weight="balanced"), scoring="f1_macro",
                                     labels=["S", "V"], cv=3).fit(X, y)
    np.testing.assert_array_equal(named.offsets_, clf.offsets_)
    assert named.best_score_ == clf.best_score_


def test_an_int_cv_with_groups_is_grouped():
    X, y, groups = _group_memorising_problem()
    clf = TunedOffsetsClassifierCV(KNeighborsClassifier(1), scoring="accuracy", cv=3).fit(X, y, groups=groups)
    assert clf.base_score_ < 0.75


def test_predict_is_the_argmax_of_predict_proba_and_zero_offsets_change_nothing():
    X, y = _imbalanced()
    clf = TunedOffsetsClassifierCV(LogisticRegression(class_weight="balanced"), cv=3).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    clf.offsets_ = np.zeros(3)
    np.testing.assert_allclose(clf.predict_proba(X), clf.estimator_.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))


def test_wraps_a_cnn_pipeline_with_grouped_folds_and_survives_clone_and_pickle():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 24))
    y = np.where(X[:, 5:9].mean(axis=1) > 0.4, "S", "N")
    groups = np.arange(60) % 6
    pipe = Pipeline([("scale", StandardScaler()),
                     ("cnn", CNN1DClassifier(filters=(3,), kernel_size=3, hidden_layer_sizes=(4,),
                                             max_iter=3, random_state=0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = TunedOffsetsClassifierCV(pipe, scoring="f1_macro", cv=GroupKFold(3)).fit(X, y, groups=groups)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert clf.transform(X).shape == (60, 4)  # the CNN's embedding
    assert clone(clf).get_params()["estimator__cnn__max_iter"] == 3


@pytest.mark.parametrize("kwargs, y, message", [
    ({}, np.c_[np.arange(20) % 2, np.arange(20) % 3 == 0].astype(int),
     "TunedOffsetsClassifierCV needs binary or multiclass y; got multilabel-indicator targets."),
    ({"reference_class": "X"}, np.array(["a", "b"] * 10),
     "reference_class='X' is not a class of y; classes: ['a', 'b']."),
    ({"offset_grid": [[0.0, 1.0]]}, np.arange(20) % 2,
     "offset_grid must be a non-empty 1D array of finite offsets; got [[0.0, 1.0]]."),
])
def test_bad_input_is_named(kwargs, y, message):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=re.escape(message)):
        TunedOffsetsClassifierCV(LogisticRegression(), cv=2, **kwargs).fit(X, y)


def test_seed_ensemble_averages_members_seeded_apart():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 24))
    y = np.where(X[:, 4:8].mean(axis=1) > 0, "V", "N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens = SeedEnsembleClassifier(CNN1DClassifier(**TINY, random_state=7), n_estimators=3).fit(X, y)
        alone = [CNN1DClassifier(**TINY, random_state=s).fit(X, y) for s in (7, 1007, 2007)]
    assert [m.random_state for m in ens.estimators_] == [7, 1007, 2007]
    assert list(ens.estimators_[0].classes_) == ["N", "V"]  # members keep the labels
    np.testing.assert_allclose(ens.predict_proba(X), np.mean([m.predict_proba(X) for m in alone], axis=0))
    np.testing.assert_array_equal(ens.predict(X), ens.classes_[ens.predict_proba(X).argmax(1)])
    # the members differ, or averaging would be pointless
    assert not np.allclose(alone[0].predict_proba(X), alone[1].predict_proba(X))


def test_seed_ensemble_seeds_a_pipeline_step():
    X = np.random.default_rng(1).normal(size=(30, 16))
    y = np.arange(30) % 2
    pipe = Pipeline([("scale", StandardScaler()), ("cnn", CNN1DClassifier(**TINY))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens = SeedEnsembleClassifier(pipe, n_estimators=2, seed_param="cnn__random_state").fit(X, y)
    assert [m.named_steps["cnn"].random_state for m in ens.estimators_] == [0, 1000]
    with pytest.raises(ValueError, match=re.escape(
            "seed_param='random_state' is not a parameter of Pipeline; e.g. 'random_state', or "
            "'cnn__random_state' for a pipeline step named cnn.")):
        SeedEnsembleClassifier(pipe, n_estimators=2).fit(X, y)


def test_out_of_fold_scores_equal_cross_val_predict_with_score_weights():
    """The oracle: cross_val_predict's probabilities on the same folds, scored by hand."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y = _imbalanced()
    w = np.where(y == "N", 5.0, 1.0)  # as if a fifth of the N beats had been kept
    cv = StratifiedKFold(3)
    est = LogisticRegression(class_weight="balanced")
    clf = TunedOffsetsClassifierCV(est, scoring="f1_macro", labels=["S", "V"], cv=cv).fit(X, y, score_weight=w)
    proba = cross_val_predict(est, X, y, cv=cv, method="predict_proba")
    classes = np.unique(y)

    def score(offsets):
        pred = classes[np.argmax(np.log(np.clip(proba, 1e-12, None)) + offsets, axis=1)]
        return f1_score(y, pred, labels=["S", "V"], average="macro", sample_weight=w)

    assert clf.base_score_ == pytest.approx(score(np.zeros(3)))
    assert clf.best_score_ == pytest.approx(score(clf.offsets_))
    # weighting N up makes S and V calls dearer: their offsets go down against the unweighted tuning
    plain = TunedOffsetsClassifierCV(est, scoring="f1_macro", labels=["S", "V"], cv=cv).fit(X, y)
    assert clf.offsets_[1:].sum() < plain.offsets_[1:].sum()


def test_sample_aligned_fit_params_are_sliced_per_fold():
    X, y = _imbalanced(n=90)
    clf = TunedOffsetsClassifierCV(LogisticRegression(), cv=3).fit(X, y, sample_weight=np.ones(90))
    assert clf.estimator_.coef_.shape == (3, 2)


def test_labels_that_are_not_classes_are_named():
    X, y = _imbalanced(n=90)
    with pytest.raises(ValueError, match=re.escape("labels ['s'] are not classes of y; classes: ['N', 'S', 'V'].")):
        TunedOffsetsClassifierCV(LogisticRegression(), scoring="f1_macro", labels=["s"], cv=3).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("score_weight must hold one finite weight >= 0 per sample (90); "
                                                   "got shape (3,).")):
        TunedOffsetsClassifierCV(LogisticRegression(), cv=3).fit(X, y, score_weight=[1, 1, 1])


@pytest.mark.parametrize("make, message", [
    (lambda: TunedOffsetsClassifierCV(LogisticRegression(), cv=2).fit(np.zeros((6, 2)), ["a"] * 6),
     "TunedOffsetsClassifierCV needs at least 2 classes in y; got 1 class (['a'])."),
    (lambda: TunedOffsetsClassifierCV(LogisticRegression(), cv=[(np.arange(4), np.arange(4, 6))]).fit(
        np.random.default_rng(0).normal(size=(12, 2)), np.arange(12) % 2),
     "leaves 10 samples out of every test fold; out-of-fold predictions need each sample predicted once."),
    (lambda: SeedEnsembleClassifier(Pipeline([("lr", LogisticRegression())]), n_estimators=2,
                                    seed_param="lr__C").fit(np.zeros((6, 2)) + np.arange(6)[:, None],
                                                            np.arange(6) % 2),
     "SeedEnsembleClassifier seeds its members from an int lr__C; got 1.0."),
])
def test_meta_estimator_errors_are_named(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


# --------------------------------------------------------------------------- #
# BlendClassifier
# --------------------------------------------------------------------------- #
def _blend_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=120) > 0, "V", "N")
    return X, y


def test_blend_averages_members_fitted_on_the_labels_as_they_are():
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from sk1dcnn.model_selection import BlendClassifier

    X, y = _blend_data()
    # a class_weight keyed by label fails on label-encoded y (VotingClassifier's way)
    tree = DecisionTreeClassifier(max_depth=3, class_weight={"N": 1.0, "V": 3.0}, random_state=0)
    blend = BlendClassifier([("lr", LogisticRegression()), ("tree", tree)], weights=[3, 1]).fit(X, y)
    assert blend.classes_.tolist() == ["N", "V"] and blend.n_features_in_ == 4
    lr, tr = blend.named_estimators_["lr"], blend.named_estimators_["tree"]
    assert tr.classes_.tolist() == ["N", "V"] and blend.estimators_ == [lr, tr]
    np.testing.assert_allclose(blend.predict_proba(X), 0.75 * lr.predict_proba(X) + 0.25 * tr.predict_proba(X))
    np.testing.assert_array_equal(blend.predict(X), blend.classes_[np.argmax(blend.predict_proba(X), axis=1)])
    assert blend.estimators[1][1] is tree and not hasattr(tree, "classes_")  # the members were cloned


def test_blend_params_clone_pickle_and_grid_search():
    import pickle

    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    from sk1dcnn.model_selection import BlendClassifier

    X, y = _blend_data()
    blend = BlendClassifier([("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(random_state=0))])
    assert blend.get_params()["lr__C"] == 1.0
    blend.set_params(lr__C=0.1, tree__max_depth=2)
    assert dict(blend.estimators)["lr"].C == 0.1
    assert clone(blend).get_params()["tree__max_depth"] == 2
    gs = GridSearchCV(blend, {"lr__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert gs.best_params_["lr__C"] in (0.01, 1.0)
    back = pickle.loads(pickle.dumps(blend.fit(X, y)))
    np.testing.assert_array_equal(back.predict_proba(X), blend.predict_proba(X))


@pytest.mark.parametrize("estimators, weights, message", [
    ([], None, "estimators must be a non-empty list of (name, classifier) tuples; got []"),
    ([("a", "lr")], None, "BlendClassifier averages probabilities: member 'a' (str) has no predict_proba"),
    ([("a", None), ("b", None)], [1.0], "weights has 1 values for 2 estimators"),
    ([("a", None), ("b", None)], [1.0, -1.0], "weights must be finite, >= 0 and not all 0; got [1.0, -1.0]"),
    ([("a", None), ("b", None)], [0, 0], "weights must be finite, >= 0 and not all 0; got [0, 0]"),
])
def test_blend_errors(estimators, weights, message):
    from sklearn.linear_model import LogisticRegression

    from sk1dcnn.model_selection import BlendClassifier

    X, y = _blend_data()
    estimators = [(n, LogisticRegression() if e is None else e) for n, e in estimators]
    with pytest.raises(ValueError, match=re.escape(message)):
        BlendClassifier(estimators, weights=weights).fit(X, y)


def test_blend_refuses_members_that_learnt_different_classes():
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.linear_model import LogisticRegression

    from sk1dcnn.model_selection import BlendClassifier

    class Lowercase(ClassifierMixin, BaseEstimator):  # learns the labels in lower case
        def fit(self, X, y):
            self.classes_ = np.unique(np.char.lower(np.asarray(y, dtype=str)))
            return self

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))

    X, y = _blend_data()
    with pytest.raises(ValueError, match=re.escape("member 'low' learnt classes ['n', 'v'], the first member "
                                                   "['N', 'V']")):
        BlendClassifier([("lr", LogisticRegression()), ("low", Lowercase())]).fit(X, y)


def test_fixed_classes_keep_offset_zero():
    """fixed_classes: those offsets stay 0 while the others are tuned (and the class must exist)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = np.array(["N", "S", "V"])[np.digitize(X[:, 0] + 0.8 * rng.normal(size=600), [0.9, 1.6])]
    base = LogisticRegression(class_weight="balanced")
    free = TunedOffsetsClassifierCV(base, scoring="accuracy", cv=3, reference_class="N").fit(X, y)
    assert np.count_nonzero(free.offsets_) >= 1  # balanced weights overcall S and V: accuracy moves them
    held = TunedOffsetsClassifierCV(base, scoring="accuracy", cv=3, reference_class="N",
                                    fixed_classes=["S"]).fit(X, y)
    assert held.offsets_[list(held.classes_).index("S")] == 0.0
    assert held.best_score_ <= free.best_score_ + 1e-12
    with pytest.raises(ValueError, match=re.escape("fixed_classes ['Q'] are not classes of y; classes: "
                                                   "['N', 'S', 'V'].")):
        TunedOffsetsClassifierCV(base, cv=3, fixed_classes=["Q"]).fit(X, y)
    p = np.full((4, 3), 1 / 3)
    off, _ = tune_offsets(np.array(["N", "S", "V", "V"]), p, np.array(["N", "S", "V"]),
                          accuracy_score, [-1.0, 1.0], reference=0, fixed=(2,))
    assert off[0] == 0.0 and off[2] == 0.0
