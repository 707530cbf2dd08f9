"""How the de Chazal configuration was chosen: out-of-fold predictions inside DS1 only.

DS2 is never loaded. Every candidate is fitted on 3 record-grouped folds of DS1
(StratifiedGroupKFold, the folds of the workflow's search) with several seeds;
the out-of-fold probabilities are cached in ``benchmarks/_ds1_oof/`` and scored
per EC57 (gross over the 22 DS1 records): S and V Se / +P, N Se, and the mean F1
of S and V (``f1_sv``, the workflow's scoring), without and with decision
offsets tuned on the same predictions (``sk1dcnn.model_selection.tune_offsets``,
an optimistic figure for every candidate alike). An "ensemble of k" averages
the probabilities of the first k seeds.

    python -m benchmarks.ecg_ds1_choice                      # every candidate, seeds 0, 1, 2
    python -m benchmarks.ecg_ds1_choice --candidates nsv_all --seeds 0,1
    python -m benchmarks.ecg_ds1_choice --candidates nsvf_0.2_template --static-model gradient_boosting
"""

import argparse
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / "_ds1_oof"

#: name -> (data overrides, model overrides)
CANDIDATES = {
    "nsvf_0.2": ({"classes": ["N", "S", "V", "F"], "subsample_normal": 0.2}, {}),
    "nsv_0.2": ({"classes": ["N", "S", "V"], "subsample_normal": 0.2}, {}),
    "nsvf_all": ({"classes": ["N", "S", "V", "F"], "subsample_normal": None}, {}),
    "nsv_all": ({"classes": ["N", "S", "V"], "subsample_normal": None}, {}),
    # the three template features (sk1dcnn.ecg.template) joined after the RR features
    "nsvf_0.2_template": ({"classes": ["N", "S", "V", "F"], "subsample_normal": 0.2, "template_features": True}, {}),
}


def _config(data_over, model_over):
    from pipelines.config import load_config

    cfg = load_config(None, "ecg", overrides={"ecg": {"data": {"name": "mitdb:de_chazal"}}})
    cfg["data"].update(data_over)
    cfg["model"].update(model_over)
    cfg["model"].update(class_weight="balanced", max_iter=12)  # the search's choice (CV 0.594)
    return cfg


def _folds(name):
    """The candidate's config, its DS1 data (every beat) and the record-grouped folds, whose
    training parts keep the candidate's ``subsample_normal`` share of each record's N beats."""
    from pipelines.ecg import load_data, make_cv

    data_over, model_over = CANDIDATES[name]
    frac = data_over.get("subsample_normal")
    cfg = _config({**data_over, "subsample_normal": None}, model_over)
    data = load_data(cfg["data"], cfg["random_state"])  # DS2 is loaded but never used here
    X, y, g = data.X_train, data.y_train, data.groups_train
    rng = np.random.default_rng(cfg["random_state"])
    folds = []
    for tr, te in make_cv(cfg, data).split(X, y, g):
        if frac is not None:
            keep = np.ones(len(tr), dtype=bool)
            for r in np.unique(g[tr]):
                n_idx = np.flatnonzero((g[tr] == r) & (y[tr] == "N"))
                drop = rng.permutation(n_idx)[int(round(frac * len(n_idx))):]
                keep[drop] = False
            tr = tr[keep]
        folds.append((tr, te))
    return cfg, data, folds


def _cached(path, compute):
    """``(y, groups, classes, proba)`` from ``path``, or from ``compute()`` then saved there."""
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return z["y"], z["groups"], z["classes"], z["proba"]
    CACHE.mkdir(exist_ok=True)
    y, g, classes, proba = compute()
    np.savez(path, y=y, groups=g, classes=classes, proba=proba)
    return y, g, classes, proba


def _oof(folds, y, models):
    classes = np.unique(y)
    proba = np.zeros((len(y), len(classes)))
    for (_, te), (model_classes, p) in zip(folds, models):
        proba[np.ix_(te, np.searchsorted(classes, model_classes))] = p
    return classes, proba


def oof_proba(name, seed):
    """Out-of-fold probabilities of one candidate and seed on every DS1 beat (cached).

    A candidate with ``subsample_normal`` keeps that share of the N beats of each
    training fold (per record, as the workflow does); the held-out fold keeps all its
    beats, so that the scores see DS1's real class frequencies.
    """
    def compute():
        from joblib import Parallel, delayed

        from pipelines._fitting import fit_clone
        from pipelines.ecg import build_pipeline

        cfg, data, folds = _folds(name)
        X, y, g = data.X_train, data.y_train, data.groups_train
        pipe = build_pipeline(cfg, data)
        t0 = time.perf_counter()
        fits = Parallel(n_jobs=2)(delayed(fit_clone)(pipe, X[tr], y[tr], seed=seed, X_predict=None)
                                  for tr, _ in folds)
        out = _oof(folds, y, [(f.model.classes_, f.model.predict_proba(X[te])) for (_, te), f in zip(folds, fits)])
        print(f"  {name} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        return (y, g, *out)

    return _cached(CACHE / f"{name}_seed{seed}.npz", compute)


def static_oof_proba(name, static_model):
    """Out-of-fold probabilities, on the same folds, of the workflow's model of the candidate's
    static columns alone (:func:`pipelines.ecg.static_feature_model`; cached)."""
    def compute():
        from pipelines.ecg import static_feature_model

        cfg, data, folds = _folds(name)
        X, y, g = data.X_train, data.y_train, data.groups_train
        k = int(data.info["n_static_features"])
        models = []
        for tr, te in folds:
            m = static_feature_model(static_model, X.shape[1] - k, k, random_state=cfg["random_state"])
            m.fit(X[tr], y[tr])
            models.append((m.classes_, m.predict_proba(X[te])))
        return (y, g, *_oof(folds, y, models))

    return _cached(CACHE / f"{name}_{static_model}.npz", compute)


def scores(y, classes, proba, tune=None, fixed=()):
    """EC57 gross figures (%) of ``argmax log p + offsets``; offsets tuned on the same predictions
    by the mean F1 of ``tune`` (e.g. ["S", "V"]), or none; the classes ``fixed`` keep offset 0."""
    import functools

    from sklearn.metrics import f1_score

    from sk1dcnn.ecg import ec57_report
    from sk1dcnn.model_selection import decide, tune_offsets

    offsets = np.zeros(len(classes))
    if tune:
        metric = functools.partial(f1_score, labels=tune, average="macro", zero_division=0)
        offsets, _ = tune_offsets(y, proba, classes, metric, np.linspace(-4, 4, 41),
                                  reference=list(classes).index("N"),
                                  fixed=tuple(list(classes).index(c) for c in fixed))
    pred = classes[decide(proba, offsets)]
    g = ec57_report(y.astype(str), pred.astype(str)).gross
    return {"f1_sv": f1_score(y, pred, labels=["S", "V"], average="macro", zero_division=0),
            "S_Se": 100 * g["S"]["Se"], "S_+P": 100 * g["S"]["+P"], "V_Se": 100 * g["V"]["Se"],
            "V_+P": 100 * g["V"]["+P"], "N_Se": 100 * g["N"]["Se"],
            "offsets": " ".join(f"{c}{o:+.1f}" for c, o in zip(classes, offsets) if c != "N")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--static-model", default=None,
                    help="also score this model of the static columns (gradient_boosting) alone, and its "
                         "probabilities averaged with the networks' (the workflow's search.static_model)")
    args = ap.parse_args(argv)
    from pipelines.ecg import single_record_classes

    seeds = [int(s) for s in args.seeds.split(",")]
    print("candidate | networks | offsets tuned by | f1_sv | S Se | S +P | V Se | V +P | N Se | offsets")
    for name in args.candidates.split(","):
        runs = [oof_proba(name, s) for s in seeds]
        y, groups, classes, _ = runs[0]
        # the workflow keeps these classes' offsets at 0 (their beats are nearly all one record's)
        fixed = sorted(single_record_classes(y, groups))
        static = static_oof_proba(name, args.static_model)[3] if args.static_model else None
        # one network: the mean of the per-seed figures; k networks: their probabilities averaged;
        # "+ static": each of those averaged with the static model's
        blends = [(f"{k}", [[r[3]] for r in runs] if k == 1 else [[r[3] for r in runs]])
                  for k in sorted({1, len(seeds)})]
        if static is not None:
            blends = ([(f"{args.static_model} alone", [[static]])] + blends
                      + [(f"{k} + {args.static_model}", [[np.mean(ps, axis=0), static] for ps in sets])
                         for k, sets in blends])
        for how_many, sets in blends:
            tunes = [(None, ()), (["S", "V"], ()), (["N", "S", "V"], ())]
            if fixed:
                tunes.append((["N", "S", "V"], fixed))
            for tune, fix in tunes:
                rows = [scores(y, classes, np.mean(ps, axis=0), tune, fix) for ps in sets]
                m = {key: np.mean([r[key] for r in rows]) for key in rows[0] if key != "offsets"}
                how = "none" if tune is None else "f1_" + "".join(tune).lower()
                if fix:
                    how += f", {' '.join(fix)} fixed at 0"
                print(f"{name} | {how_many} | {how} | {m['f1_sv']:.3f} | {m['S_Se']:.1f} | {m['S_+P']:.1f} | "
                      f"{m['V_Se']:.1f} | {m['V_+P']:.1f} | {m['N_Se']:.1f} | "
                      f"{'; '.join(r['offsets'] for r in rows)}", flush=True)


if __name__ == "__main__":
    main()
