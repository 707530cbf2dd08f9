"""Command line: ``python -m pipelines {ecg,ecg-monitor,audio,audio-tagging} ...``."""

import argparse
import os
import sys


def _start(cfg):
    """Before any data is loaded: say where the run logs and why, and check that it may write there."""
    from .config import tracking_line

    print(tracking_line(cfg["tracking"]), flush=True)
    if cfg["tracking"]["uri"].startswith(("http://", "https://")):
        from ._tracking import check_write_access

        check_write_access(cfg["tracking"])


def _tracking_overrides(args):
    trk = {k: v for k, v in (("uri", args.tracking_uri), ("experiment", args.experiment_name)) if v}
    return {"tracking": trk} if trk else {}


def _ecg(args):
    from .config import load_config
    from .ecg import run

    ecg = {}
    data = {k: v for k, v in (("name", args.dataset), ("data_dir", args.data_dir)) if v}
    if data:
        ecg["data"] = data
    if args.scheduler is not None and args.backend is None:
        args.backend = "dask"  # --scheduler alone means the dask backend
    search = {k: getattr(args, k) for k in ("n_jobs", "backend", "scheduler") if getattr(args, k) is not None}
    if search:
        ecg["search"] = search
    if args.no_model_file:
        ecg["model_file"] = None
    overrides = {**_tracking_overrides(args), **({"ecg": ecg} if ecg else {})}
    cfg = load_config(args.config, "ecg", quick=args.quick, overrides=overrides)
    _start(cfg)
    run(cfg)
    return 0


def _audio(args):
    from .audio import run
    from .config import load_config

    cfg = load_config(args.config, "audio", quick=args.quick, overrides=_tracking_overrides(args))
    _start(cfg)
    run(cfg, "tagging" if args.command == "audio-tagging" else "digits")
    return 0


def _monitor(args):
    from sk1dcnn.persistence import UntrustedTypesError

    from .monitor import monitor

    if args.personal is not None:
        from .personal_monitor import monitor_personal

        ignored = [f for f, v, d in (("--model", args.model, None), ("--chunk-seconds", args.chunk_seconds, 60.0),
                                     ("--min-run", args.min_run, 3)) if v != d]
        if ignored:
            print(f"note: {', '.join(ignored)} not used with --personal (it trains its own model and warns "
                  "at single beats)", file=sys.stderr)
        try:
            monitor_personal(args.record, args.personal, bank_records=args.bank_records, out_csv=args.out,
                             max_warnings=args.max_alerts)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.bank_records is not None:
        print("error: --bank-records goes with --personal MINUTES", file=sys.stderr)
        return 2
    try:
        monitor(args.record, model=args.model, out_csv=args.out, chunk_seconds=args.chunk_seconds,
                min_run=args.min_run, max_alerts=args.max_alerts,
                tracking_uri=args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None)
    except (ValueError, UntrustedTypesError) as exc:  # a model file refused, or bad options
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


_URI_HELP = ("MLflow tracking URI; overrides $MLFLOW_TRACKING_URI, which overrides tracking.uri in "
             "mlflow.yml (default: sqlite:///<cwd>/mlflow.db). A server with basic auth reads "
             "$MLFLOW_TRACKING_USERNAME and $MLFLOW_TRACKING_PASSWORD")
_EXPERIMENT_HELP = ("MLflow experiment; overrides $MLFLOW_EXPERIMENT_NAME, which overrides tracking.experiment "
                    "in mlflow.yml")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ecg", help="grid-search, fit and evaluate a 1D CNN on ECG data, tracked in MLflow")
    p.add_argument("--config", default=None,
                   help="YAML configuration (default: ./mlflow.yml, else the repository's mlflow.yml)")
    p.add_argument("--quick", action="store_true", help="apply the ecg: quick: section (< 2 min)")
    p.add_argument("--dataset", help="override ecg.data.name, e.g. ucr:ECG200, ucr:ECG5000, "
                                     "mitdb:inter_patient")
    p.add_argument("--data-dir", help="override ecg.data.data_dir (a folder, or 'shared' = $SK1DCNN_DATA)")
    p.add_argument("--tracking-uri", dest="tracking_uri", help=_URI_HELP)
    p.add_argument("--experiment-name", dest="experiment_name", help=_EXPERIMENT_HELP)
    p.add_argument("--n-jobs", dest="n_jobs", type=int, help="override ecg.search.n_jobs")
    p.add_argument("--backend", choices=("local", "dask"), default=None,
                   help="where GridSearchCV runs: local processes (default) or a dask.distributed "
                        "cluster (needs --scheduler)")
    p.add_argument("--scheduler", default=None,
                   help="dask scheduler address tcp://HOST:PORT (with --backend dask)")
    p.add_argument("--no-model-file", action="store_true", help="do not write the .skops model file")
    p.set_defaults(func=_ecg)

    m = sub.add_parser("ecg-monitor", help="classify every beat of a whole WFDB record")
    m.add_argument("--record", required=True, help="WFDB record path without extension, "
                                                   "e.g. sk1dcnn/data/mitdb/233")
    m.add_argument("--model", default=None,
                   help="a .skops file written by 'ecg', or an MLflow model URI (runs:/<id>/model, "
                        "models:/<id>, a local model folder); default: "
                        "mlartifacts/ecg_model_mitdb-inter_patient.skops")
    m.add_argument("--out", default=None, help="per-beat CSV (default: <record name>_beats.csv)")
    m.add_argument("--chunk-seconds", type=float, default=60.0,
                   help="signal read and classified per chunk (bounds memory)")
    m.add_argument("--min-run", type=int, default=3, help="abnormal beats in a row that raise an alert")
    m.add_argument("--max-alerts", type=int, default=20, help="alert lines printed (all go to the CSV)")
    m.add_argument("--tracking-uri", default=None, help="tracking URI for runs:/ or models:/ model URIs "
                                                        "(default: $MLFLOW_TRACKING_URI, else "
                                                        "sqlite:///<cwd>/mlflow.db)")
    m.add_argument("--personal", type=float, default=None, metavar="MINUTES",
                   help="advance warning: train a personal model on the record's first MINUTES (its "
                        "normal beats plus abnormal beats synthesized from them), then monitor the rest "
                        "and warn at S or V beats (--model is not used)")
    m.add_argument("--bank-records", default=None,
                   help="with --personal: folder of labelled WFDB records for the degradation bank "
                        "(default: the excerpts shipped with sk1dcnn; the monitored record is left out)")
    m.set_defaults(func=_monitor)

    for name, what in (("audio", "spoken-digit classification on FSDD"),
                       ("audio-tagging", "multi-label tagging of FSDD mixtures (digits, speakers)")):
        a = sub.add_parser(name, help=f"{what}, raw waveform vs log-mel front end, tracked in MLflow")
        a.add_argument("--config", default=None,
                       help="YAML configuration, its tracking: and audio: sections (default: "
                            "./mlflow.yml, else the repository's mlflow.yml)")
        a.add_argument("--quick", action="store_true", help="apply the audio: quick: section "
                                                            "(the 270 shipped clips, a small network)")
        a.add_argument("--tracking-uri", dest="tracking_uri", help=_URI_HELP)
        a.add_argument("--experiment-name", dest="experiment_name", help=_EXPERIMENT_HELP)
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
