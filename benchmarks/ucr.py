"""The UCR development panel: sk1dcnn's default and presets next to MiniRocket.

``python -m benchmarks ucr`` fits every method on the 18 panel sets (TRAIN
split) for each seed, scores the TEST split once, and times fit + predict.
MiniRocket comes from ``aeon`` (installed only in the benchmark environment,
like PyTorch). Missing values (NaN-padded unequal lengths, interior gaps) are
filled with 0 for every method, so all see the same arrays.

Every (method, set, seed, protocol) result is cached in a JSON file as soon as
it is measured, so a run that is cut short continues where it stopped; the
report is written from the cache (``--report-only`` rewrites it without
fitting anything).

Protocols:

* ``test`` (default): fit on TRAIN, score TEST. Used for reporting only.
* ``holdout``: fit on a stratified 2/3 of TRAIN, score the other third
  (split seeded by the seed). Used to *choose* defaults: no test data is seen.

Every method runs on one BLAS / numba thread, and time is the CPU time of
fit + predict (``time.process_time``, all threads of the process): on a shared
machine, wall-clock time measures the other users' load as much as the method
(the wall time is kept too, as ``wall_s``).
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / "ucr_results.json"
DEFAULT_REPORT = HERE / "RESULTS.md"
SECTION_BEGIN = "<!-- ucr-panel:begin -->"
SECTION_END = "<!-- ucr-panel:end -->"

#: The development panel (see the data folder's SOURCE.md). Nothing else is fetched.
PANEL = (
    "ACSF1", "AllGestureWiimoteX", "BirdChicken", "CricketY", "DistalPhalanxOutlineAgeGroup",
    "DistalPhalanxTW", "DodgerLoopDay", "ECG200", "ECG5000", "ECGFiveDays",
    "EOGHorizontalSignal", "EthanolLevel", "FaceFour", "FacesUCR", "FordB",
    "FreezerSmallTrain", "Fungi", "GesturePebbleZ1",
)
NOT_NORMALISED = ("AllGestureWiimoteX", "DodgerLoopDay", "EOGHorizontalSignal", "Fungi",
                  "GesturePebbleZ1")
TIE = 0.005  # accuracy differences below half a point count as ties
REFERENCE = "minirocket"

#: The 0.2 default written out, so it can still be measured once defaults change.
PREVIOUS_DEFAULT = dict(filters=(16, 32, 64), kernel_size=5, pool="max", pool_size=2,
                        global_pool=None, hidden_layer_sizes=(64,), max_iter=200)


# --------------------------------------------------------------------------- methods
def _cnn(**params):
    def make(seed):
        from sk1dcnn import CNN1DClassifier

        est = CNN1DClassifier(random_state=seed)
        valid = est.get_params()
        return est.set_params(**{k: v for k, v in params.items() if k in valid})
    return make


def _minirocket(seed):
    from aeon.classification.convolution_based import MiniRocketClassifier

    return MiniRocketClassifier(random_state=seed, n_jobs=1)


def _preset(name):
    def make(seed):
        from sk1dcnn import CNN1DClassifier
        from sk1dcnn.presets import PRESETS

        if name not in PRESETS:
            raise KeyError(f"preset {name!r} is not in this checkout (PRESETS: {sorted(PRESETS)})")
        return CNN1DClassifier(architecture=name, random_state=seed)
    return make


def _seed_ensemble(make, n_estimators):
    """``n_estimators`` copies of ``make(seed)`` seeded seed, seed + 1000, ..., probabilities averaged."""
    def make_ensemble(seed):
        from sk1dcnn.model_selection import SeedEnsembleClassifier

        return SeedEnsembleClassifier(make(seed), n_estimators=n_estimators)
    return make_ensemble


#: Candidate defaults compared on the holdout protocol (TRAIN only).
CANDIDATES = {
    "cand_gap": dict(input_scaling="per_series", global_pool="avg"),
    "cand_gap_wide": dict(input_scaling="per_series", global_pool="avg",
                          filters=(32, 64, 128), kernel_size=7),
    "cand_flat_scaled": dict(input_scaling="per_series", global_pool=None),
    "cand_global_gap": dict(input_scaling="global", global_pool="avg"),
    "cand_auto": dict(input_scaling="per_series", global_pool="auto"),
    "cand_auto_k7": dict(input_scaling="per_series", global_pool="auto", kernel_size=7),
    "cand_auto_global": dict(input_scaling="global", global_pool="auto"),
    "cand_auto_none": dict(input_scaling=None, global_pool="auto"),
    "cand_auto_tol3": dict(input_scaling="per_series", global_pool="auto", tol=1e-3),
    "cand_auto_b64": dict(input_scaling="per_series", global_pool="auto", batch_size=64),
}

METHODS = {
    "minirocket": _minirocket,
    "default": _cnn(),
    "previous_default": _cnn(**PREVIOUS_DEFAULT, input_scaling=None),
    "fcn": _preset("fcn"),
    "resnet": _preset("resnet"),
    "inception_time": _preset("inception_time"),
    # InceptionTime as published: an ensemble of 5 networks (member 0 is the seed's single network)
    "inception_time_x5": _seed_ensemble(_preset("inception_time"), 5),
    # the default network with the seed material's other classification losses (issue 13 item 6)
    "loss_squared_error": _cnn(loss="squared_error"),
    "loss_exponential": _cnn(loss="exponential"),
    **{name: _cnn(**params) for name, params in CANDIDATES.items()},
}


# --------------------------------------------------------------------------- data
def load_panel_set(name, data_dir):
    """TRAIN and TEST of one panel set, NaN filled with 0 (the shared comparison policy)."""
    from sk1dcnn.datasets import load_ucr

    X_train, y_train, X_test, y_test = load_ucr(name, data_home=data_dir)
    return (np.nan_to_num(X_train, nan=0.0), y_train, np.nan_to_num(X_test, nan=0.0), y_test)


def holdout_split(X, y, seed):
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    return train_test_split(X, y, test_size=1 / 3, stratify=stratify, random_state=seed)


# --------------------------------------------------------------------------- running
def run_one(method, X_train, y_train, X_test, y_test, seed):
    est = METHODS[method](seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        est.fit(X_train, y_train)
        t1 = time.perf_counter()
        pred = est.predict(X_test)
        t2, c2 = time.perf_counter(), time.process_time()
    row = {"accuracy": float(np.mean(pred == y_test)), "fit_s": t1 - t0, "predict_s": t2 - t1,
           "wall_s": t2 - t0, "time_s": c2 - c0}
    if hasattr(est, "n_iter_"):
        row["n_iter"] = int(est.n_iter_)
    from sk1dcnn.model_selection import SeedEnsembleClassifier

    if isinstance(est, SeedEnsembleClassifier):
        # each member is a single network of its own seed: the ensemble's gain over one network
        # is measured against them (after the timing, so it costs the method nothing)
        row["n_iter"] = [int(m.n_iter_) for m in est.estimators_]
        row["member_accuracy"] = [float(np.mean(m.predict(X_test) == y_test)) for m in est.estimators_]
    return row


def _key(method, name, seed, protocol):
    return f"{protocol}|{method}|{name}|{seed}"


def load_cache(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {"results": {}, "runs": []}


def save_cache(cache, path):
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _claimed(cache, key):
    """Is another live process of this machine measuring ``key`` right now?"""
    pid = cache.get("claims", {}).get(key)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _warm_up_minirocket():
    """Load numba's compiled kernels before timing (compile/load time is not fit time)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 64))
    _minirocket(0).fit(X, np.repeat([0, 1], 10)).predict(X)


def run(methods, sets, seeds, protocol, data_dir, cache_path, log=print):
    cache = load_cache(cache_path)
    cache["runs"].append({"started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                          "loadavg": os.getloadavg(), "methods": methods, "sets": sets,
                          "seeds": seeds, "protocol": protocol,
                          "machine": platform.platform(), "python": platform.python_version()})
    save_cache(cache, cache_path)
    warmed, skipped = False, set()
    # seed-major order: a cut run has every set at the first seed
    for seed in seeds:
        for name in sets:
            data = None
            for method in methods:
                key = _key(method, name, seed, protocol)
                cache = load_cache(cache_path)
                if key in cache["results"] or method in skipped or _claimed(cache, key):
                    continue
                cache.setdefault("claims", {})[key] = os.getpid()  # parallel runs skip it
                save_cache(cache, cache_path)
                if data is None:
                    data = load_panel_set(name, data_dir)
                X_train, y_train, X_test, y_test = data
                if protocol == "holdout":
                    X_train, X_test, y_train, y_test = holdout_split(X_train, y_train, seed)
                if method == "minirocket" and not warmed:
                    _warm_up_minirocket()
                    warmed = True
                try:
                    row = run_one(method, X_train, y_train, X_test, y_test, seed)
                except KeyError as exc:  # a preset this checkout does not have
                    log(f"skip {method}: {exc}")
                    skipped.add(method)
                    continue
                except ValueError as exc:
                    if type(exc).__name__ != "DivergedError":
                        raise
                    # the fit raised (a user gets no model): scored as the majority class's share
                    # of the test split, and flagged
                    _, counts = np.unique(y_train, return_counts=True)
                    majority = np.unique(y_train)[np.argmax(counts)]
                    row = {"accuracy": float(np.mean(y_test == majority)), "diverged": str(exc)[:200],
                           "time_s": float("nan"), "wall_s": float("nan")}
                row["loadavg"] = os.getloadavg()[0]
                cache = load_cache(cache_path)  # another run may have added results
                cache["results"][key] = row
                save_cache(cache, cache_path)
                log(f"{protocol} {method:>20s} {name:>28s} seed {seed}: acc {row['accuracy']:.3f} "
                    f"in {row['time_s']:.1f} s CPU, {row['wall_s']:.1f} s wall (epochs {row.get('n_iter', '-')}, "
                    f"load {row['loadavg']:.1f})")
    return load_cache(cache_path)


# --------------------------------------------------------------------------- report
def summarise(cache, methods, sets, seeds, protocol):
    """Per (method, set): mean accuracy and time over the seeds present (None if missing)."""
    table = {}
    for method in methods:
        for name in sets:
            rows = [cache["results"].get(_key(method, name, s, protocol)) for s in seeds]
            rows = [r for r in rows if r is not None]
            if rows:
                table[method, name] = {
                    "accuracy": float(np.mean([r["accuracy"] for r in rows])),
                    # a diverged fit has no time: the seeds that finished give it
                    "time_s": float(np.nanmean([r["time_s"] for r in rows])),
                    "n_seeds": len(rows)}
    return table


def _ranks(values):
    """Average ranks, 1 = best (highest accuracy), ties share the mean rank."""
    from scipy.stats import rankdata

    return rankdata(-np.asarray(values), method="average")


def render(cache, methods, sets, seeds, protocol):
    table = summarise(cache, methods, sets, seeds, protocol)
    methods = [m for m in methods if any((m, s) in table for s in sets)]
    # only sets every method finished enter the aggregates
    complete = [s for s in sets if all((m, s) in table for m in methods)]
    lines = [f"Protocol `{protocol}`; seeds {list(seeds)}; accuracy = mean over the seeds; "
             f"time = CPU seconds of fit + predict (one thread), mean over the seeds; x = ratio to MiniRocket's time.", ""]
    head = "| set | " + " | ".join(methods) + " |"
    lines += [head, "|---" * (len(methods) + 1) + "|"]
    for name in sets:
        cells = []
        for m in methods:
            r = table.get((m, name))
            if r is None:
                cells.append("-")
                continue
            cell = f"{r['accuracy']:.3f} ({r['time_s']:.1f} s"
            ref = table.get((REFERENCE, name))
            if ref is not None and m != REFERENCE and ref["time_s"] > 0:
                cell += f", {r['time_s'] / ref['time_s']:.1f}x"
            cell += ")" + ("" if r["n_seeds"] == len(seeds) else f" [{r['n_seeds']} seeds]")
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if REFERENCE in methods:
        lines += ["", "Each method against MiniRocket on the sets both finished (n):", "",
                  "| method | n | mean accuracy | MiniRocket's mean on those sets | W/T/L vs MiniRocket "
                  "| worst gap to MiniRocket | time ratio to MiniRocket: median / max |",
                  "|---|---|---|---|---|---|---|"]
        for m in methods:
            both = [s for s in sets if (m, s) in table and (REFERENCE, s) in table]
            if m == REFERENCE or not both:
                continue
            a = np.array([table[m, s]["accuracy"] for s in both])
            r = np.array([table[REFERENCE, s]["accuracy"] for s in both])
            d = a - r
            t = np.array([table[m, s]["time_s"] / table[REFERENCE, s]["time_s"] for s in both])
            worst = int(np.argmin(d))
            lines.append(
                f"| {m} | {len(both)} | {a.mean():.3f} | {r.mean():.3f} | "
                f"{int(np.sum(d >= TIE))}/{int(np.sum(np.abs(d) < TIE))}/{int(np.sum(d <= -TIE))} | "
                f"{d[worst]:+.3f} ({both[worst]}) | "
                f"{np.median(t):.1f}x / {t.max():.1f}x ({both[int(np.argmax(t))]}) |")
    if complete and len(methods) > 1:
        acc = np.array([[table[m, s]["accuracy"] for m in methods] for s in complete])
        ranks = np.array([_ranks(row) for row in acc])
        lines += ["", f"Mean rank (1 = best) over the {len(complete)} sets every method finished: "
                  + ", ".join(f"{m} {ranks[:, j].mean():.2f}" for j, m in enumerate(methods)) + "."]
    return "\n".join(lines)


def write_section(text, path):
    """Replace (or append) the panel section of ``path`` between its markers."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    section = f"{SECTION_BEGIN}\n{text}\n{SECTION_END}"
    if SECTION_BEGIN in old and SECTION_END in old:
        head, rest = old.split(SECTION_BEGIN, 1)
        new = head + section + rest.split(SECTION_END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(new)


# --------------------------------------------------------------------------- CLI
def _csv(text):
    return [t for t in text.split(",") if t]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks ucr", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=_csv, default=list(PANEL),
                        help="comma-separated panel sets (default: all 18)")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in _csv(s)], default=[0, 1, 2])
    parser.add_argument("--methods", type=_csv,
                        default=["minirocket", "default", "fcn", "resnet", "inception_time",
                                 "inception_time_x5", "loss_squared_error", "loss_exponential"],
                        help=f"comma-separated, from: {', '.join(METHODS)}")
    parser.add_argument("--protocol", choices=("test", "holdout"), default="test")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the panel's *_TRAIN.tsv / *_TEST.tsv files "
                             "(default: the data folder's ucr/)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE),
                        help="JSON file of per-(method, set, seed) results; reruns skip those")
    parser.add_argument("--report", default=str(DEFAULT_REPORT),
                        help="markdown file whose panel section is rewritten ('-' prints only)")
    parser.add_argument("--report-only", action="store_true", help="write the report, fit nothing")
    args = parser.parse_args(argv)

    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {list(METHODS)}")
    bad = [s for s in args.sets if s not in PANEL]
    if bad:
        parser.error(f"{bad} are not panel sets; the panel is {list(PANEL)}")
    data_dir = args.data_dir
    if data_dir is None:
        from sk1dcnn.datasets import find_shared_data

        data_dir = find_shared_data("ucr")
        if data_dir is None:
            parser.error("no data folder found: pass --data-dir or set $SK1DCNN_DATA")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba loads
    if "minirocket" in args.methods and not args.report_only:
        try:
            import aeon  # noqa: F401
        except ImportError:
            print("aeon is not installed here: run the panel in the benchmark venv "
                  "(see benchmarks/README.md).", file=sys.stderr)
            return 2
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        if not args.report_only:
            cache = run(args.methods, args.sets, args.seeds, args.protocol, data_dir, args.cache,
                        log=lambda s: print(s, flush=True))
        else:
            cache = load_cache(args.cache)
    text = render(cache, args.methods, args.sets, args.seeds, args.protocol)
    print(text)
    if args.report != "-":
        write_section(f"## UCR development panel (`python -m benchmarks ucr`)\n\n{text}",
                      args.report)
    return 0
