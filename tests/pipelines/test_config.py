"""pipelines/config.py: the sectioned mlflow.yml, its one merge rule, validation that names
the key and the allowed keys, and the errors for a file in an earlier layout."""

import copy

import pytest

pytest.importorskip("yaml")

from pipelines.__main__ import main  # noqa: E402
from pipelines.config import (  # noqa: E402
    DEFAULT_CONFIG,
    ConfigError,
    audio_scoring,
    default_tracking_uri,
    load_config,
    merge,
    resolve_config,
    tracking_line,
)


@pytest.fixture(autouse=True)
def _no_mlflow_environment(monkeypatch):
    """The user's MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_NAME would take precedence over the files here."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


def _ecg(name):
    return {"ecg": {"data": {"name": name}}}


#: (mutate the parsed mlflow.yml, the key the error names, what it lists as allowed)
ECG_TYPOS = [
    (lambda c: c["ecg"]["search"].update(n_job=2), "ecg.search.n_job", "n_jobs"),
    (lambda c: c["ecg"]["model"].update(filtres=[8]), "ecg.model.filtres", "filters"),
    (lambda c: c["ecg"]["data"].update(nme="x"), "ecg.data.nme", "data_dir"),
    (lambda c: c["ecg"]["quick"].update(tracking={"uri": "x"}), "ecg.quick.tracking", "search"),
    (lambda c: c["ecg"]["search"].pop("grid"), "ecg.search.grid", "missing required key"),
    (lambda c: c["ecg"]["search"].update(cv=1), "ecg.search.cv", "integer >= 2"),
    (lambda c: c["ecg"]["search"].update(n_jobs=0), "ecg.search.n_jobs", "-1 (all cores)"),
    (lambda c: c["ecg"]["search"].update(scoring="auc"), "ecg.search.scoring", "balanced_accuracy"),
    (lambda c: c["ecg"]["search"].update(tune_offsets="f1_nvs"), "ecg.search.tune_offsets",
     "(did you mean 'f1_nsv'?); allowed: true, false, accuracy"),
    (lambda c: c["ecg"]["search"].update(ensemble=0), "ecg.search.ensemble", "integer >= 1"),
    (lambda c: c["ecg"]["data"].update(name="mitdb:intra"), "ecg.data.name", "mitdb:inter_patient"),
    (lambda c: c["ecg"]["data"].update(name="physionet:x"), "ecg.data.name", "ucr:<UCR name>"),
    (lambda c: c["ecg"]["model"].update(activation="relux"), "ecg.model.activation", "'relu'"),
    (lambda c: c["ecg"]["search"]["grid"].update(kernel_size=[5, 0]), "ecg.search.grid.kernel_size",
     "kernel_size"),
    (lambda c: c["ecg"]["search"]["grid"].update(kernel_sise=[5]), "ecg.search.grid.kernel_sise",
     "kernel_size"),
    (lambda c: c["tracking"].update(uri="./mlruns"), "tracking.uri", "sqlite:///"),
    (lambda c: c["tracking"].update(experimnt="x"), "tracking.experimnt", "experiment"),
    (lambda c: c["ecg"].update(preprocessing=[{"notch": {}}]), "ecg.preprocessing[0]", "bandpass"),
    (lambda c: c["ecg"].update(preprocessing=[{"bandpass": {"hgh": 40}}]),
     "ecg.preprocessing[0].bandpass.hgh", "high"),
    # per-dataset entries
    (lambda c: c["ecg"].update(datasets=[1]), "ecg.datasets", "dataset names"),
    (lambda c: c["ecg"]["datasets"].update({"ucr:ECG200": {"modle": {}}}), "ecg.datasets.ucr:ECG200.modle",
     "preprocessing, model, search"),
    (lambda c: c["ecg"]["datasets"].update({"ucr:ECG200": {"seeds": [1]}}), "ecg.datasets.ucr:ECG200.seeds",
     "model, search"),
    (lambda c: c["ecg"]["datasets"].update({"ucr:ECG200": {"search": {"n_jobs": 1}}}),
     "ecg.datasets.ucr:ECG200.search.n_jobs", "grid, cv, scoring"),
    (lambda c: c["ecg"]["datasets"].update({"mitdb:intra": {"search": {"cv": 3}}}), "ecg.datasets.mitdb:intra",
     "mitdb:patient_specific"),
    (lambda c: c["ecg"]["datasets"].update({"ECG200": {"search": {"cv": 3}}}), "ecg.datasets.ECG200",
     "ucr:<UCR name>"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG5000"].update(model={"kernel_size": 0}), "ecg.model.kernel_size",
     "kernel_size"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG5000"]["search"].update(grid={"kernel_sise": [5]}),
     "ecg.search.grid.kernel_sise", "kernel_size"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG5000"]["search"].update(cv=1), "ecg.search.cv", "integer >= 2"),
    (lambda c: c["ecg"]["datasets"]["mitdb:inter_patient"]["search"].update(cv={"n_splits": 2, "n_repeats": 2}),
     "ecg.search.cv.n_repeats", "UCR data sets only"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG200"]["search"].update(cv={"n_split": 3}), "ecg.search.cv.n_split",
     "n_splits, n_repeats"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG200"].update(data={"name": "ucr:ECG5000"}),
     "ecg.datasets.ucr:ECG200.data.name", "data_dir"),
    (lambda c: c["ecg"]["datasets"]["mitdb:inter_patient"].update(data={"classes": ["N", "X"]}),
     "ecg.data.classes", "N, S, V, F, Q"),
    (lambda c: c["ecg"]["data"].update(classes=["N", "V"], name="ucr:ECG200"), "ecg.data.classes", "MIT-BIH"),
    (lambda c: c["ecg"]["data"].update(records="100"), "ecg.data.records", "list"),
    (lambda c: c["ecg"]["data"].update(train_minutes=30), "ecg.data.train_minutes", "(0, 30)"),
    # how a patient-specific grid is chosen
    (lambda c: c["ecg"]["search"].update(validation="inner"), "ecg.search.validation", "cv, inner_minutes"),
    (lambda c: c["ecg"]["search"].update(validation="inner_minutes"), "ecg.search.validation",
     "mitdb:patient_specific only"),
    (lambda c: c["ecg"]["search"].update(inner_train_minutes=1), "ecg.search.inner_train_minutes",
     "null (half of data.train_minutes)"),
    (lambda c: (c["ecg"]["data"].update(name="mitdb:patient_specific", train_minutes=2),
                c["ecg"]["datasets"]["mitdb:patient_specific"]["search"].update(inner_train_minutes=2)),
     "ecg.search.inner_train_minutes", "(0, data.train_minutes = 2)"),
    (lambda c: c["ecg"]["data"].update(name="ucr:ECG200") or c["ecg"]["search"].update(scoring="ec57_f1_sv"),
     "ecg.search.scoring", "MIT-BIH data sets only"),
    (lambda c: c["ecg"]["datasets"]["mitdb:de_chazal"]["search"].update(scoring="ec57_f1_sv")
     or c["ecg"]["data"].update(name="mitdb:de_chazal"),
     "ecg.search.scoring", "cannot weight the N beats that data.subsample_normal keeps"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG5000"]["search"].update(scoring="f1_sv"),
     "ecg.search.scoring", "f1_sv scores the AAMI beat classes N, S, V: MIT-BIH data sets only"),
    (lambda c: c["ecg"]["datasets"]["ucr:ECG5000"]["search"].update(tune_offsets="f1_nsv"),
     "ecg.search.tune_offsets", "allowed: accuracy, balanced_accuracy, f1_macro"),
    # where the search runs
    (lambda c: c["ecg"]["search"].update(backend="spark"), "ecg.search.backend", "local, dask"),
    (lambda c: c["ecg"]["search"].update(backend="dask"), "ecg.search.scheduler", "tcp://HOST:PORT"),
    (lambda c: c["ecg"]["search"].update(backend="dask", scheduler="localhost"), "ecg.search.scheduler",
     "tcp://HOST:PORT"),
    (lambda c: c["ecg"]["search"].update(scheduler="tcp://127.0.0.1:8786"), "ecg.search.scheduler",
     "backend: dask"),
    (lambda c: c["ecg"]["quick"]["search"].update(backend="dask"), "ecg.quick.search.backend", "grid"),
    # the model file ecg-monitor reads is skops, never a pickle
    (lambda c: c["ecg"].update(model_file="mlartifacts/ecg_model.joblib"), "ecg.model_file",
     "rename it to mlartifacts/ecg_model.skops"),
    (lambda c: c["ecg"]["quick"].update(model_file="model.pkl"), "ecg.model_file", "a path ending in .skops"),
    # the top level holds sections only
    (lambda c: c.update(ecgg={}), "ecgg", "tracking, ecg, audio"),
]

AUDIO_TYPOS = [
    (lambda c: c["audio"]["data"].update(lenght=100), "audio.data.lenght", "length"),
    (lambda c: c["audio"]["search"]["grid"].update(front_end=["cqt"]), "audio.search.grid.front_end",
     "raw, mel"),
    (lambda c: c["audio"]["search"]["grid"].pop("front_end"), "audio.search.grid.front_end",
     "missing required key"),
    (lambda c: c["audio"]["search"]["grid"].update(kernel_sise=[3]), "audio.search.grid.kernel_sise",
     "front_end, activation"),
    (lambda c: c["audio"]["search"]["grid"].update(kernel_size=[3, 0]), "audio.search.grid.kernel_size",
     "kernel_size"),
    (lambda c: c["audio"]["search"].update(scoring="auc"), "audio.search.scoring",
     "accuracy, balanced_accuracy, f1_macro (audio); roc_auc (audio-tagging)"),
    (lambda c: c["audio"]["quick"]["search"].update(scoring="roc"), "audio.search.scoring", "roc_auc"),
    (lambda c: c["audio"]["search"].update(n_jobs=0), "audio.search.n_jobs", "-1 (all cores)"),
    (lambda c: c["audio"]["model"].update(activation="relux"), "audio.model.activation", "'relu'"),
    (lambda c: c["audio"]["front_ends"]["mel"].update(filtres=[8]), "audio.front_ends.mel.filtres", "filters"),
    (lambda c: c["audio"]["front_ends"].update(cqt={}), "audio.front_ends.cqt", "raw, mel"),
    (lambda c: c["audio"]["preprocessing"].update(normalize="max"), "audio.preprocessing.normalize",
     "'rms'"),
    (lambda c: c["audio"]["preprocessing"]["mel"].update(n_mel=40), "audio.preprocessing.mel.n_mel",
     "n_mels"),
    (lambda c: c["audio"]["tagging"].update(n_train=1), "audio.tagging.n_train", "integer >= 2"),
    (lambda c: c["audio"].update(lsoo=True), "audio.lsoo", "loso"),
]


@pytest.mark.parametrize("workflow, mutate, key, allowed",
                         [("ecg", *case) for case in ECG_TYPOS]
                         + [("audio", *case) for case in AUDIO_TYPOS])
def test_bad_config_names_key_and_allowed(raw, workflow, mutate, key, allowed):
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        resolve_config(raw, workflow, quick=True, source="mlflow.yml")
    msg = str(err.value)
    assert f"mlflow.yml: {key}:" in msg
    assert allowed in msg


def test_a_typo_in_one_workflow_never_breaks_the_other(raw):
    bad_audio = copy.deepcopy(raw)
    bad_audio["audio"]["data"]["lenght"] = 100
    bad_audio["audio"]["model"]["activation"] = "relux"
    with pytest.raises(ConfigError, match="audio.data.lenght"):
        resolve_config(bad_audio, "audio")
    for quick in (False, True):
        assert resolve_config(bad_audio, "ecg", quick=quick)["data"]["name"] == "mitdb:inter_patient"

    bad_ecg = copy.deepcopy(raw)
    bad_ecg["ecg"]["model"]["filtres"] = [8]
    bad_ecg["ecg"]["search"].pop("grid")
    with pytest.raises(ConfigError, match=r"ecg\.search\.grid: missing required key"):
        resolve_config(bad_ecg, "ecg")
    assert resolve_config(bad_ecg, "audio")["search"]["grid"] == {"front_end": ["raw", "mel"]}
    assert resolve_config(bad_ecg, "audio", quick=True)["search"]["grid"] == {
        "front_end": ["mel"], "global_pool": ["avg", None]}
    # a file without an audio: section runs audio on the defaults
    no_audio = {k: v for k, v in raw.items() if k != "audio"}
    assert resolve_config(no_audio, "audio", quick=True)["data"]["data_dir"] == "shipped"
    assert resolve_config(no_audio, "audio")["tracking"]["experiment"] == "sk1dcnn-audio"


def test_the_0_1_layout_is_refused_with_where_each_key_moved(tmp_path, capsys):
    old = {"tracking_uri": None, "experiment_name": "sk1dcnn-ecg", "artifact_location": None,
           "dataset": {"name": "mitdb:inter_patient"}, "preprocessing": "auto", "model": {"max_iter": 2},
           "grid": {"kernel_size": [5]}, "cv": 3, "scoring": "auto", "n_jobs": 2, "backend": "local",
           "scheduler": None, "random_state": 0, "seeds": [0], "model_file": None, "log_model": True,
           "datasets": {}, "quick": {"cv": 2}}
    with pytest.raises(ConfigError) as err:
        resolve_config(old, "audio", source="mlflow.yml")
    msg = str(err.value)
    assert msg.startswith("mlflow.yml uses the 0.1 layout")
    for moved in ("`tracking_uri:` to `tracking: uri:`", "`experiment_name:` to `tracking: experiment:`",
                  "`artifact_location:` to `tracking: artifact_location:`", "`dataset:` to `ecg: data:`",
                  "`preprocessing:` to `ecg: preprocessing:`", "`model:` to `ecg: model:`",
                  "`grid:` to `ecg: search: grid:`", "`cv:` to `ecg: search: cv:`",
                  "`scoring:` to `ecg: search: scoring:`", "`n_jobs:` to `ecg: search: n_jobs:`",
                  "`backend:` to `ecg: search: backend:`", "`scheduler:` to `ecg: search: scheduler:`",
                  "`random_state:` to `ecg: random_state:`", "`seeds:` to `ecg: seeds:`",
                  "`model_file:` to `ecg: model_file:`", "`log_model:` to `ecg: log_model:`",
                  "`datasets:` to `ecg: datasets:`", "`quick:` to `ecg: quick:`"):
        assert moved in msg, moved
    assert "`dataset:` -> `data:`" in msg  # inside quick: and datasets: entries
    import yaml

    path = tmp_path / "old.yml"
    path.write_text(yaml.safe_dump(old))
    assert main(["ecg", "--quick", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "uses the 0.1 layout" in err and "`model:` to `ecg: model:`" in err


def test_a_0_1_model_file_is_renamed_to_skops():
    """A 0.1 config's model.joblib would get skops bytes, which ecg-monitor refuses as a pickle."""
    old = {"model_file": "mlartifacts/ecg_model.joblib", "quick": {"model_file": "quick.pkl"}}
    with pytest.raises(ConfigError) as err:
        resolve_config(old, "ecg", source="mlflow.yml")
    msg = str(err.value)
    assert "`model_file:` to `ecg: model_file:`" in msg
    assert "Rename `model_file: mlartifacts/ecg_model.joblib` to end in `.skops`" in msg
    assert "mlartifacts/ecg_model.skops" in msg and "Rename `model_file: quick.pkl`" in msg
    with pytest.raises(ConfigError) as err:
        resolve_config({"model_file": "m.skops"}, "ecg", source="mlflow.yml")
    assert "Rename" not in str(err.value)


def test_the_earlier_audio_search_layout_says_where_front_ends_moved(raw, tmp_path, capsys):
    import yaml

    for quick in (False, True):
        old = copy.deepcopy(raw)
        section = old["audio"]["quick"] if quick else old["audio"]
        section.setdefault("search", {}).pop("grid", None)
        section["search"]["front_ends"] = ["raw", "mel"]
        where = "audio: quick" if quick else "audio"
        with pytest.raises(ConfigError) as err:
            resolve_config(old, "audio", source="mlflow.yml")
        msg = str(err.value)
        assert msg.startswith("mlflow.yml uses the earlier audio: layout")
        assert (f"move `{where}: search: front_ends: [raw, mel]` to "
                f"`{where}: search: grid: front_end: [raw, mel]`") in msg
        # a run reads its own section only
        assert resolve_config(old, "ecg")["data"]["name"] == "mitdb:inter_patient"
    path = tmp_path / "old.yml"
    path.write_text(yaml.safe_dump(old))
    assert main(["audio", "--quick", "--config", str(path)]) == 2
    assert "search: grid: front_end:" in capsys.readouterr().err


def test_audio_scoring_of_each_task(raw):
    cfg = resolve_config(raw, "audio", source="mlflow.yml")
    assert cfg["search"]["scoring"] == "auto"
    assert audio_scoring(cfg, "audio") == "accuracy"
    assert audio_scoring(cfg, "audio-tagging") == "roc_auc"
    raw["audio"]["search"]["scoring"] = "balanced_accuracy"
    cfg = resolve_config(raw, "audio", source="mlflow.yml")
    assert audio_scoring(cfg, "audio") == "balanced_accuracy"
    with pytest.raises(ConfigError) as err:
        audio_scoring(cfg, "audio-tagging")
    msg = str(err.value)
    assert msg.startswith("mlflow.yml: audio.search.scoring: 'balanced_accuracy' does not score audio-tagging")
    assert msg.endswith("allowed: auto (roc_auc), roc_auc")


def test_the_default_tracking_uri_is_one_sqlite_file_in_the_working_directory(raw, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert resolve_config(raw, "audio")["tracking"]["uri"] == default_tracking_uri()


def test_one_merge_rule():
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "grid": {"x": [1]}, "l": [1, 2], "s": "keep"}
    over = {"a": {"c": {"d": 20}}, "grid": {"y": [2]}, "l": [3], "n": None}
    before = copy.deepcopy((base, over))
    assert merge(base, over) == {"a": {"b": 1, "c": {"d": 20, "e": 3}}, "grid": {"y": [2]}, "l": [3],
                                 "s": "keep", "n": None}
    assert (base, over) == before  # neither argument changes
    assert merge({"cv": {"n_splits": 3, "n_repeats": 3}}, {"cv": 2}) == {"cv": 2}


def test_command_line_overrides_merge_like_every_layer(raw):
    cfg = resolve_config(raw, "ecg", quick=True, overrides={"ecg": {"model": {"max_iter": 1}},
                                                            "tracking": {"experiment": "x"}})
    assert cfg["model"]["max_iter"] == 1
    assert cfg["model"]["batch_size"] == raw["ecg"]["quick"]["model"]["batch_size"]  # the rest stays
    assert cfg["tracking"]["experiment"] == "x"
    audio = resolve_config(raw, "audio", quick=True, overrides={"audio": {"front_ends": {"mel": {
        "dropout": 0.5}}}})
    assert audio["front_ends"]["mel"]["dropout"] == 0.5
    assert audio["front_ends"]["mel"]["filters"] == tuple(raw["audio"]["quick"]["front_ends"]["mel"]["filters"])
    assert audio["front_ends"]["mel"]["kernel_size"] == raw["audio"]["front_ends"]["mel"]["kernel_size"]


def test_bad_dataset_section_is_named(raw):
    raw["ecg"]["datasets"]["ucr:ECG5000"]["model"] = {"activation": "relux"}
    # the entry is checked even when another data set runs
    with pytest.raises(ConfigError, match=r"ecg\.model\.activation: .*in the configuration of that data set"):
        resolve_config(raw, quick=True)


def test_datasets_section_overrides_top_level(raw):
    raw["ecg"]["model"]["dropout"] = 0.1
    raw["ecg"]["datasets"] = {
        "ucr:ECG200": {"model": {"kernel_size": 9, "batch_size": 16},
                       "search": {"grid": {"alpha": [0.0001, 0.001]}, "cv": 4}},
        "mitdb:inter_patient": {"model": {"global_pool": "avg"}, "search": {"scoring": "f1_macro"}}}
    over = _ecg("ucr:ECG200")
    cfg = resolve_config(raw, overrides=over)
    assert cfg["dataset_section"] == "ucr:ECG200"
    assert cfg["model"]["kernel_size"] == 9 and cfg["model"]["batch_size"] == 16
    assert cfg["model"]["dropout"] == 0.1  # merged key by key: the rest stays as in ecg:
    assert cfg["search"]["grid"] == {"cnn__alpha": [0.0001, 0.001]}  # grid replaced, not merged
    assert cfg["search"]["cv"] == 4 and cfg["search"]["scoring"] == "accuracy"
    # quick applies on top of the entry; the command line on top of both
    q = resolve_config(raw, quick=True, overrides=over)
    quick = raw["ecg"]["quick"]
    assert q["dataset_section"] == "ucr:ECG200"
    assert q["model"]["max_iter"] == quick["model"]["max_iter"]
    assert q["model"]["batch_size"] == quick["model"]["batch_size"]
    assert q["model"]["n_iter_no_change"] == quick["model"]["n_iter_no_change"]
    assert q["search"]["grid"] == {f"cnn__{k}": v for k, v in quick["search"]["grid"].items()}
    assert q["search"]["cv"] == quick["search"]["cv"]
    # the dataset named in the file (no override) picks its own entry
    mit = resolve_config(raw)
    assert mit["dataset_section"] == "mitdb:inter_patient"
    assert mit["model"]["global_pool"] == "avg" and mit["search"]["scoring"] == "f1_macro"
    # a data set with no entry uses the ecg: keys
    five = resolve_config(raw, overrides=_ecg("ucr:ECGFiveDays"))
    assert five["dataset_section"] is None
    assert five["model"]["kernel_size"] == raw["ecg"]["model"]["kernel_size"]
    assert five["search"]["grid"] == {f"cnn__{k}": [tuple(x) if isinstance(x, list) else x for x in v]
                                      for k, v in raw["ecg"]["search"]["grid"].items()}


def test_shipped_config_sections(raw):
    """The repository's mlflow.yml: the UCR results come from their own entries."""
    for name in ("ucr:ECG200", "ucr:ECG5000", "mitdb:inter_patient", "mitdb:de_chazal",
                 "mitdb:patient_specific"):
        cfg = load_config(DEFAULT_CONFIG, overrides=_ecg(name))
        assert cfg["dataset_section"] == name
    # the patient-specific grid is chosen on the training minutes 2.5-5, one candidate for all patients
    ps = load_config(DEFAULT_CONFIG, overrides=_ecg("mitdb:patient_specific"))
    assert ps["search"]["validation"] == "inner_minutes" and ps["search"]["inner_train_minutes"] == 2.5
    assert ps["search"]["scoring"] == "ec57_f1_sv" and len(ps["search"]["grid"]["cnn__class_weight"]) == 3
    # null: half of the patient's training minutes
    ps = load_config(DEFAULT_CONFIG, overrides={"ecg": {"data": {"name": "mitdb:patient_specific",
                                                                 "train_minutes": 3},
                                                        "search": {"inner_train_minutes": None}}})
    assert ps["search"]["inner_train_minutes"] == 1.5
    mit = load_config(DEFAULT_CONFIG)
    assert mit["data"]["classes"] == ["N", "S", "V"]  # the entry's data keys
    assert mit["search"]["validation"] == "cv" and mit["search"]["inner_train_minutes"] is None
    assert mit["data"]["rr_features"] is True
    ucr = load_config(DEFAULT_CONFIG, overrides=_ecg("ucr:ECG200"))
    assert ucr["data"]["classes"] is None
    assert not ucr["model"].get("early_stopping") and ucr["model"].get("global_pool") is None
    # repeated folds in a UCR entry are checked as a UCR configuration
    raw["ecg"]["datasets"]["ucr:ECG200"]["search"]["cv"] = {"n_splits": 3, "n_repeats": 2}
    cfg = resolve_config(raw, overrides=_ecg("ucr:ECG200"))
    assert (cfg["search"]["cv"], cfg["search"]["cv_repeats"]) == (3, 2)
    from types import SimpleNamespace

    from pipelines.ecg import make_cv

    assert type(make_cv(cfg, SimpleNamespace(kind="ucr"))).__name__ == "RepeatedStratifiedKFold"
    mit = load_config(DEFAULT_CONFIG)
    assert mit["data"]["name"] == "mitdb:inter_patient"
    # epochs chosen by grouped CV (early stopping would hold out beats of the training patients)
    assert mit["model"]["class_weight"] == "balanced" and mit["model"]["early_stopping"] is False
    # the shipped audio: section, full and quick
    audio = load_config(DEFAULT_CONFIG, "audio")
    assert audio["search"]["grid"] == {"front_end": ["raw", "mel"]} and audio["data"]["length"] == 6561
    # both workflow sections search the same way
    for workflow in ("ecg", "audio"):
        assert {"grid", "cv", "scoring", "n_jobs", "backend"} <= set(raw[workflow]["search"]), workflow
    assert load_config(DEFAULT_CONFIG, "audio", quick=True)["data"]["data_dir"] == "shipped"


def test_bad_config_file_through_cli(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(DEFAULT_CONFIG.read_text().replace("cv: 3", "cv: three"))
    assert main(["ecg", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cv: must be an integer >= 2" in err and str(bad) in err
    assert main(["ecg", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "Configuration file not found" in capsys.readouterr().err


def test_missing_data_paths(raw, tmp_path, capsys):
    pytest.importorskip("wfdb")
    raw["ecg"]["data"]["data_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"ecg\.data\.data_dir: folder does not exist: .*nowhere"):
        resolve_config(raw)
    # a folder that exists but lacks the records: the loader names the missing file
    from pipelines.ecg import load_data

    raw["ecg"]["data"] = {"name": "mitdb:inter_patient", "data_dir": str(tmp_path)}
    cfg = resolve_config(raw)
    with pytest.raises(FileNotFoundError, match=r"MIT-BIH record '101' not found"):
        load_data(cfg["data"])
    raw["ecg"]["data"] = {"name": "ucr:NoSuchSet", "data_dir": str(tmp_path)}
    cfg = resolve_config(raw)
    with pytest.raises(FileNotFoundError, match="NoSuchSet"):
        load_data(cfg["data"])
    assert main(["ecg", "--quick", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "ecg.data.data_dir" in capsys.readouterr().err


def test_http_config_leaves_artifacts_to_the_server(raw):
    raw["tracking"]["uri"] = "http://127.0.0.1:5000"
    assert resolve_config(raw, quick=True)["tracking"]["artifact_location"] is None
    raw["tracking"]["artifact_location"] = "s3://bucket/x"
    assert resolve_config(raw, quick=True)["tracking"]["artifact_location"] == "s3://bucket/x"


def test_backend_flags_reach_the_config(monkeypatch):
    import pipelines.ecg as ecg

    seen = {}
    monkeypatch.setattr(ecg, "run", lambda cfg: seen.update(cfg))
    assert main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", "sqlite:///x.db",
                 "--backend", "dask", "--scheduler", "tcp://10.0.0.1:8786"]) == 0
    assert seen["search"]["backend"] == "dask" and seen["search"]["scheduler"] == "tcp://10.0.0.1:8786"
    assert seen["tracking"]["uri"] == "sqlite:///x.db"


# ------------------------------------------------------- tracking URI precedence
@pytest.mark.parametrize("cli, env, file, used, why", [
    ("sqlite:///cli.db", "http://env:5000", "http://file:5000", "sqlite:///cli.db",
     "from --tracking-uri, which overrides MLFLOW_TRACKING_URI and tracking.uri in mlflow.yml"),
    (None, "http://env:5000", "http://file:5000", "http://env:5000",
     "from MLFLOW_TRACKING_URI, which overrides tracking.uri http://file:5000 in mlflow.yml"),
    (None, "http://env:5000", None, "http://env:5000", "from MLFLOW_TRACKING_URI"),
    (None, None, "http://file:5000", "http://file:5000",
     "from tracking.uri in mlflow.yml; MLFLOW_TRACKING_URI is not set"),
    (None, None, None, "<default>",
     "default: no --tracking-uri, MLFLOW_TRACKING_URI not set, tracking.uri: null in mlflow.yml"),
])
def test_tracking_uri_precedence_and_the_line_saying_why(raw, monkeypatch, cli, env, file, used, why):
    if env:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    raw["tracking"]["uri"] = file
    over = {"tracking": {"uri": cli}} if cli else None
    trk = resolve_config(raw, "ecg", overrides=over, source="mlflow.yml")["tracking"]
    assert trk["uri"] == (default_tracking_uri() if used == "<default>" else used)
    assert tracking_line(trk) == f"MLflow tracking: {trk['uri']}  ({why}); experiment 'sk1dcnn-ecg'"
    assert trk["artifact_location"] is None if trk["uri"].startswith("http") else trk["artifact_location"]


def test_experiment_name_precedence(raw, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    trk = resolve_config(raw, "audio")["tracking"]
    assert trk["experiment"] == "from-env" and tracking_line(trk).endswith("'from-env' (from MLFLOW_EXPERIMENT_NAME)")
    trk = resolve_config(raw, "audio", overrides={"tracking": {"experiment": "cli"}})["tracking"]
    assert trk["experiment"] == "cli" and tracking_line(trk).endswith("'cli' (from --experiment-name)")


def test_a_file_store_in_the_environment_names_the_variable(raw, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "./mlruns")
    with pytest.raises(ConfigError, match=r"^environment: MLFLOW_TRACKING_URI: './mlruns' is a file store"):
        resolve_config(raw, "ecg")


def test_the_cli_prints_where_it_logs_before_running(monkeypatch, capsys):
    import pipelines.ecg as ecg

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    monkeypatch.setattr(ecg, "run", lambda cfg: print("ran"))
    assert main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["MLflow tracking: sqlite:///env.db  (from MLFLOW_TRACKING_URI); experiment 'sk1dcnn-ecg'", "ran"]


# ------------------------------------------------------- YAML syntax, did you mean
@pytest.mark.parametrize("text, line, col, problem", [
    ("tracking:\n  uri: null\n   experiment: x\n", 3, 14, "mapping values are not allowed here"),
    ("ecg:\n  data: {name: x\n  model: 1\n", 3, 8, "expected ',' or '}', but got ':'"),
    ("ecg:\n\tdata: 1\n", 2, 1, "found character '\\t' that cannot start any token"),
])
def test_a_yaml_syntax_error_is_one_line_with_file_line_and_column(tmp_path, capsys, text, line, col, problem):
    path = tmp_path / "mlflow.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}:{col}: YAML syntax error: {problem}")
    assert "\n" not in msg
    assert main(["ecg", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {msg}\n"


@pytest.mark.parametrize("mutate, workflow, key, suggestion", [
    (lambda c: c["ecg"]["search"].update(n_job=2), "ecg", "ecg.search.n_job", "n_jobs"),
    (lambda c: c["ecg"]["model"].update(filtres=[8]), "ecg", "ecg.model.filtres", "filters"),
    (lambda c: c["tracking"].update(experimnt="x"), "ecg", "tracking.experimnt", "experiment"),
    (lambda c: c["ecg"]["search"]["grid"].update(kernel_sise=[5]), "ecg", "ecg.search.grid.kernel_sise",
     "kernel_size"),
    (lambda c: c["ecg"].update(preprocessing=[{"bandpas": {}}]), "ecg", "ecg.preprocessing[0]", "bandpass"),
    (lambda c: c["ecg"]["search"].update(scoring="balanced_acuracy"), "ecg", "ecg.search.scoring",
     "balanced_accuracy"),
    (lambda c: c["ecg"]["data"].update(name="mitdb:inter_patients"), "ecg", "ecg.data.name", "inter_patient"),
    (lambda c: c["audio"]["data"].update(lenght=100), "audio", "audio.data.lenght", "length"),
    (lambda c: c["audio"]["search"].update(backend="dsk"), "audio", "audio.search.backend", "dask"),
])
def test_unknown_names_get_a_did_you_mean(raw, mutate, workflow, key, suggestion):
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        resolve_config(raw, workflow, source="mlflow.yml")
    assert f"mlflow.yml: {key}: unknown" in str(err.value)
    assert f"(did you mean '{suggestion}'?)" in str(err.value)


def test_no_did_you_mean_without_a_close_name(raw):
    raw["ecg"]["search"]["zzz"] = 1
    with pytest.raises(ConfigError) as err:
        resolve_config(raw, "ecg")
    assert "unknown key; allowed" in str(err.value) and "did you mean" not in str(err.value)
