"""Safe persistence: pickle, joblib and skops round trips; the trusted-type list;
tampered files refused."""

import io
import json
import os
import pathlib
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest

skops_io = pytest.importorskip("skops.io")

from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from sk1dcnn import CNN1DClassifier, CNN1DRegressor  # noqa: E402
from sk1dcnn.audio.features import ClipStandardScaler  # noqa: E402
from sk1dcnn.nn.blocks import BLOCKS  # noqa: E402
from sk1dcnn.nn.layers import LAYERS  # noqa: E402
from sk1dcnn.persistence import (  # noqa: E402
    ESTIMATOR_TYPES,
    PREPROCESSING_TYPES,
    SKLEARN_TYPES,
    STDLIB_TYPES,
    TRUSTED_TYPES,
    UntrustedTypesError,
    dump,
    get_trusted_types,
    load,
)
from sk1dcnn.preprocessing import (  # noqa: E402
    AmplitudeNormalizer,
    BandpassFilter,
    CropOrPad,
    LogMelSpectrogram,
    Resampler,
    SeriesStandardScaler,
)
from sk1dcnn.model_selection import BlendClassifier, SeedEnsembleClassifier, TunedOffsetsClassifierCV  # noqa: E402
from sk1dcnn.presets import inception_time, sample_level  # noqa: E402

TINY = dict(filters=(3,), kernel_size=3, hidden_layer_sizes=(4,), max_iter=2, random_state=0)
RNG = np.random.default_rng(0)
X3 = RNG.normal(size=(24, 2, 27))
Y3 = np.arange(24) % 3
YS = np.array(["normal", "abnormal"])[np.arange(24) % 2]


def _fitted_variants(tmp_path):
    """Fitted estimators covering every layer, block, optimizer and fit mode."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["default"] = CNN1DClassifier(**TINY).fit(X3, Y3)
        out["sgd_es_avg_prelu"] = CNN1DClassifier(
            **{**TINY, "hidden_layer_sizes": (4, 4)}, solver="sgd", early_stopping=True,
            activation="prelu", dropout=0.3, pool="avg", global_pool="avg").fit(X3, Y3)
        out["strings_rrelu_gmax_f64"] = CNN1DClassifier(
            **TINY, activation="rrelu", global_pool="max", dtype="float64", augment=True,
            class_weight="balanced").fit(X3, YS)
        pf = CNN1DClassifier(**TINY)
        pf.partial_fit(X3, YS, classes=["abnormal", "normal"])
        out["partial_fit"] = pf.partial_fit(X3, YS)
        out["multilabel"] = CNN1DClassifier(**TINY).fit(X3, np.c_[Y3 == 0, Y3 != 1].astype(int))
        out["static_features"] = CNN1DClassifier(**TINY, n_static_features=3).fit(X3, Y3)
        out["tuned_offsets_ensemble"] = TunedOffsetsClassifierCV(
            SeedEnsembleClassifier(CNN1DClassifier(**TINY), n_estimators=2), cv=2).fit(X3, YS)
        out["regressor_es_path"] = CNN1DRegressor(
            **TINY, early_stopping=True, checkpoint_path=pathlib.Path(tmp_path) / "r.ckpt",
        ).fit(X3, RNG.normal(size=24))
        out["regressor_2d_target"] = CNN1DRegressor(**TINY).fit(X3[:, 0], RNG.normal(size=(24, 2)))
        # the ECG workflow's blend (search.static_model): networks + gradient boosting, 2-D beats
        out["blend_gradient_boosting_2d"] = BlendClassifier(
            [("cnn", CNN1DClassifier(**TINY, n_static_features=3)),
             ("gbt", HistGradientBoostingClassifier(max_iter=3, early_stopping=False))]).fit(X3[:, 0], YS)
        for block in ("conv", "res", "rese"):
            out[f"preset_{block}"] = CNN1DClassifier(
                architecture=sample_level(n_blocks=2, filters=2, block=block, se_ratio=1),
                early_stopping=True, max_iter=2, random_state=0).fit(X3, Y3)
        out["inception_time"] = CNN1DClassifier(
            architecture=inception_time(depth=3, filters=2, kernel_sizes=(4, 2), bottleneck=2),
            max_iter=2, random_state=0).fit(X3, Y3)
    return out


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    return _fitted_variants(tmp_path_factory.mktemp("ckpt"))


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


def test_trusted_types_are_exactly_what_fitted_estimators_hold(variants):
    """Walk real fitted objects: every untrusted type they hold is listed, and
    nothing is listed that no fitted estimator holds."""
    found = set()
    for name, est in variants.items():
        found |= set(skops_io.get_untrusted_types(data=skops_io.dumps(est)))
    path_type = f"pathlib.{type(pathlib.Path()).__name__}"
    assert found == set(ESTIMATOR_TYPES) | {path_type} | set(SKLEARN_TYPES)
    assert path_type in STDLIB_TYPES
    # every engine layer and block class is covered (and none is a stale name)
    engine = ({f"sk1dcnn.nn.layers.{n}" for n in LAYERS} | {f"sk1dcnn.nn.blocks.{n}" for n in BLOCKS}
              | {f"sk1dcnn.nn.network.{n}" for n in ("Residual", "Concatenate", "InceptionModule")})
    assert engine <= set(ESTIMATOR_TYPES)
    assert get_trusted_types() == list(TRUSTED_TYPES)
    assert get_trusted_types() is not get_trusted_types()


def test_preprocessing_types_are_exactly_the_pipeline_transformers():
    steps = [("amp", AmplitudeNormalizer()), ("band", BandpassFilter(fs=100.0, high=20.0)),
             ("crop", CropOrPad(length=256)), ("resample", Resampler(100.0, 100.0)),
             ("scale", SeriesStandardScaler()),
             ("mel", LogMelSpectrogram(fs=100.0, n_fft=32, hop_length=16, n_mels=4)),
             ("clip", ClipStandardScaler()), ("cnn", CNN1DClassifier(**TINY))]
    X = RNG.normal(size=(12, 256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline(steps).fit(X, np.arange(12) % 2)
    found = set(skops_io.get_untrusted_types(data=skops_io.dumps(pipe)))
    assert found - set(ESTIMATOR_TYPES) == set(PREPROCESSING_TYPES)


@pytest.mark.parametrize("how", ["pickle", "joblib", "skops"])
def test_round_trip_gives_identical_predictions(variants, how, tmp_path):
    for name, est in variants.items():
        X = X3[:, 0] if name.endswith("_2d_target") or name.endswith("_2d") else X3
        path = tmp_path / f"{name}.{how}"
        if how == "pickle":
            path.write_bytes(pickle.dumps(est))
            back = pickle.loads(path.read_bytes())
        elif how == "joblib":
            joblib.dump(est, path)
            back = joblib.load(path)
        else:
            dump(est, path)
            back = load(path)
        assert type(back) is type(est)
        np.testing.assert_array_equal(_outputs(back, X), _outputs(est, X), err_msg=name)
        np.testing.assert_array_equal(back.predict(X), est.predict(X), err_msg=name)
        if hasattr(est, "transform"):  # not the ensemble: its members' embeddings differ
            np.testing.assert_array_equal(back.transform(X), est.transform(X), err_msg=name)
        assert back.get_params().keys() == est.get_params().keys()
        clone(back)  # still a well-formed estimator


def test_skops_round_trip_keeps_the_training_state(tmp_path):
    """Optimizer moments, counters and the random generator survive: training
    resumed from the file continues exactly as the original would."""
    est = CNN1DClassifier(**TINY, dropout=0.2, augment=True)
    est.partial_fit(X3, Y3, classes=[0, 1, 2])
    dump(est, tmp_path / "m.skops")
    back = load(tmp_path / "m.skops")
    est.partial_fit(X3, Y3)
    back.partial_fit(X3, Y3)
    for a, b in zip(est.network_.get_weights(), back.network_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert back.n_iter_ == est.n_iter_ == 2


class Foreign:
    """A class nobody reviewed."""

    def __init__(self):
        self.payload = "anything"


def test_load_refuses_a_file_with_injected_objects(variants, tmp_path):
    est = pickle.loads(pickle.dumps(variants["default"]))
    est.network_.layers[0].hook = os.system  # a function that runs shell commands
    est._extra = Foreign()
    path = tmp_path / "tampered.skops"
    skops_io.dump(est, path)  # an attacker writes with skops directly
    with pytest.raises(UntrustedTypesError) as info:
        load(path)
    msg = str(info.value)
    assert "Refusing to load" in msg and "tampered.skops" in msg
    assert f"{os.system.__module__}.system" in msg
    assert f"{__name__}.Foreign" in msg
    assert not any(t.startswith("sk1dcnn.") for t in info.value.types)
    # it is skops' own exception type too
    assert isinstance(info.value, skops_io.exceptions.UntrustedTypesFoundException)
    # and dump will not write such an object in the first place
    with pytest.raises(UntrustedTypesError, match="Not saving"):
        dump(est, tmp_path / "other.skops")
    assert not (tmp_path / "other.skops").exists()
    # a reviewed extra type can be allowed explicitly
    del est.network_.layers[0].hook
    dump(est, tmp_path / "ok.skops", trusted=[f"{__name__}.Foreign"])
    assert isinstance(load(tmp_path / "ok.skops", trusted=[f"{__name__}.Foreign"])._extra, Foreign)


def test_load_refuses_a_schema_edited_to_name_another_class(variants, tmp_path):
    """Edit the file itself: a layer node now claims to be subprocess.Popen."""
    good = tmp_path / "good.skops"
    dump(variants["default"], good)
    with zipfile.ZipFile(good) as zin:
        files = {n: zin.read(n) for n in zin.namelist()}
    schema = json.loads(files["schema.json"])
    n_edited = 0

    def edit(node):
        nonlocal n_edited
        if isinstance(node, dict):
            if node.get("__module__") == "sk1dcnn.nn.layers" and node.get("__class__") == "Flatten":
                node["__module__"], node["__class__"] = "subprocess", "Popen"
                n_edited += 1
            for v in node.values():
                edit(v)
        elif isinstance(node, list):
            for v in node:
                edit(v)

    edit(schema)
    assert n_edited == 1
    text = json.dumps(schema)
    files["schema.json"] = text.encode()
    bad = tmp_path / "bad.skops"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for n, data in files.items():
            zout.writestr(n, data)
    bad.write_bytes(buf.getvalue())
    with pytest.raises(UntrustedTypesError, match=r"subprocess\.Popen"):
        load(bad)
    # plain skops refuses it too unless told to trust everything it finds
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(bad, trusted=get_trusted_types())


def test_load_refuses_a_file_that_is_not_skops(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a skops file"):
        load(path)


def test_mlflow_skops_model_with_the_trusted_types(variants, tmp_path):
    """MLflow 3 saves in skops format and refuses unknown types unless told."""
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    est = variants["preset_rese"]
    path = tmp_path / "model"
    mlflow_sklearn.save_model(est, path, serialization_format="skops",
                              skops_trusted_types=get_trusted_types(), pip_requirements=["sk1dcnn"])
    back = mlflow_sklearn.load_model(str(path))
    np.testing.assert_array_equal(back.predict_proba(X3), est.predict_proba(X3))
    # the file MLflow wrote is an ordinary skops file: sk1dcnn's load takes it too
    np.testing.assert_array_equal(load(path / "model.skops").predict_proba(X3),
                                  est.predict_proba(X3))
