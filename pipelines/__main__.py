"""Command line: ``python -m pipelines {ecg,ecg-monitor,audio,audio-tagging} ...``."""

import argparse
import sys


def _ecg(args):
    from .config import load_config
    from .ecg import run

    overrides = {}
    if args.dataset or args.data_dir:
        overrides["dataset"] = {k: v for k, v in (("name", args.dataset), ("data_dir", args.data_dir)) if v}
    if args.scheduler is not None and args.backend is None:
        args.backend = "dask"  # --scheduler alone means the dask backend
    for key in ("tracking_uri", "experiment_name", "n_jobs", "backend", "scheduler"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.no_model_file:
        overrides["model_file"] = None
    cfg = load_config(args.config, quick=args.quick, overrides=overrides)
    run(cfg)
    return 0


def _audio(args):
    from .audio import run_audio, run_audio_tagging

    overrides = {"experiment_name": args.experiment_name} if args.experiment_name else None
    run = run_audio_tagging if args.command == "audio-tagging" else run_audio
    run(args.config, quick=args.quick, overrides=overrides)
    return 0


def _monitor(args):
    from .monitor import monitor

    monitor(args.record, model=args.model, out_csv=args.out, chunk_seconds=args.chunk_seconds,
            min_run=args.min_run, max_alerts=args.max_alerts, tracking_uri=args.tracking_uri)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ecg", help="grid-search, fit and evaluate a 1D CNN on ECG data, tracked in MLflow")
    p.add_argument("--config", default=None,
                   help="YAML configuration (default: ./mlflow.yml, else the repository's mlflow.yml)")
    p.add_argument("--quick", action="store_true", help="use the config's quick: section (< 2 min)")
    p.add_argument("--dataset", help="override dataset.name, e.g. ucr:ECG200, ucr:ECG5000, "
                                     "mitdb:inter_patient")
    p.add_argument("--data-dir", help="override dataset.data_dir (a folder, or 'shared')")
    p.add_argument("--tracking-uri", dest="tracking_uri", help="override tracking_uri")
    p.add_argument("--experiment-name", dest="experiment_name", help="override experiment_name")
    p.add_argument("--n-jobs", dest="n_jobs", type=int, help="override n_jobs")
    p.add_argument("--backend", choices=("local", "dask"), default=None,
                   help="where GridSearchCV runs: local processes (default) or a dask.distributed "
                        "cluster (needs --scheduler)")
    p.add_argument("--scheduler", default=None,
                   help="dask scheduler address tcp://HOST:PORT (with --backend dask)")
    p.add_argument("--no-model-file", action="store_true", help="do not write the joblib model file")
    p.set_defaults(func=_ecg)

    m = sub.add_parser("ecg-monitor", help="classify every beat of a whole WFDB record")
    m.add_argument("--record", required=True, help="WFDB record path without extension, "
                                                   "e.g. sk1dcnn/data/mitdb/233")
    m.add_argument("--model", default=None,
                   help="a joblib file written by 'ecg', or an MLflow model URI (runs:/<id>/model, "
                        "models:/<id>, a local model folder); default: "
                        "mlartifacts/ecg_model_mitdb-inter_patient.joblib")
    m.add_argument("--out", default=None, help="per-beat CSV (default: <record name>_beats.csv)")
    m.add_argument("--chunk-seconds", type=float, default=60.0,
                   help="signal read and classified per chunk (bounds memory)")
    m.add_argument("--min-run", type=int, default=3, help="abnormal beats in a row that raise an alert")
    m.add_argument("--max-alerts", type=int, default=20, help="alert lines printed (all go to the CSV)")
    m.add_argument("--tracking-uri", default=None, help="tracking URI for runs:/ or models:/ model URIs "
                                                        "(default: sqlite:///<cwd>/mlflow.db)")
    m.set_defaults(func=_monitor)

    for name, what in (("audio", "spoken-digit classification on FSDD"),
                       ("audio-tagging", "multi-label tagging of FSDD mixtures (digits, speakers)")):
        a = sub.add_parser(name, help=f"{what}, raw waveform vs log-mel front end, tracked in MLflow")
        a.add_argument("--config", default=None, help="mlflow.yml for the tracking settings "
                                                      "(tracking_uri, artifact_location, n_jobs)")
        a.add_argument("--quick", action="store_true", help="the 90 shipped clips, a tiny network")
        a.add_argument("--experiment-name", dest="experiment_name", help="default: sk1dcnn-audio")
        a.set_defaults(func=_audio)

    args = parser.parse_args(argv)
    from .config import ConfigError, TrackingServerError

    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, TrackingServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
