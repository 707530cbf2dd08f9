"""Paired A/B timing of the working tree against a git revision, in one process.

``python -m benchmarks.ab [REV] [--workload A] [--rounds 20] [--measure predict]``

On these shared machines a full benchmark moves by about 10% between runs, so
an engine change worth 2-5% cannot be judged from two runs. This script imports
the package of revision ``REV`` (default ``HEAD``) as ``sk1dcnn_ref`` beside the
working tree's ``sk1dcnn``, fits one estimator of each on the same workload,
and times them in alternating order, round after round; it reports each
version's median and the median and quartiles of the per-round ratio
(working tree / REV), which cancel most of the machine's drift. A ratio whose
quartiles straddle 1 is no measurable difference.

It checks first that both versions predict the same probabilities (atol 1e-4).
"""

import argparse
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_revision(rev, name="sk1dcnn_ref"):
    """Import the ``sk1dcnn`` package of git revision ``rev`` under ``name``.

    The package imports its own modules relatively, so a renamed copy is a
    separate package with its own module state.
    """
    tmp = tempfile.mkdtemp(prefix="sk1dcnn_ab_")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    archive = os.path.join(tmp, "pkg.tar")
    subprocess.run(["git", "-C", ROOT, "archive", "-o", archive, rev, "sk1dcnn"], check=True)
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(tmp, filter="data")
        except TypeError:  # Python < 3.10.12 / 3.11.4: no extraction filters
            tar.extractall(tmp)
    os.rename(os.path.join(tmp, "sk1dcnn"), os.path.join(tmp, name))
    sys.path.insert(0, tmp)
    return importlib.import_module(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", nargs="?", default="HEAD")
    parser.add_argument("--workload", default="A", choices=["A", "B"])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--measure", default="predict", choices=["predict", "fit"])
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--no-check", action="store_true",
                        help="time even when the probabilities differ (e.g. against a revision "
                             "before BatchNormalization's exact statistics)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    sys.path.insert(0, ROOT)
    import sk1dcnn

    from .workloads import WORKLOADS

    ref = import_revision(args.rev)
    w = WORKLOADS[args.workload]
    X, y = w.make_data(n_samples=args.n_samples)
    models = {}
    for label, pkg in (("working tree", sk1dcnn), (args.rev, ref)):
        params = dict(architecture=w.architecture, batch_size=w.batch_size, max_iter=1,
                      alpha=0.0, random_state=0)
        if "input_scaling" in pkg.CNN1DClassifier().get_params():
            params["input_scaling"] = None  # the engine is compared, not the input scaling
        models[label] = pkg.CNN1DClassifier(**params).fit(X, y)
    labels = list(models)
    P = [models[k].predict_proba(X) for k in labels]
    if not np.allclose(P[0], P[1], atol=1e-4) and not args.no_check:
        raise SystemExit("the two versions predict different probabilities: not comparable")

    def run(model):
        start = time.perf_counter()
        if args.measure == "predict":
            model.predict_proba(X)
        else:
            model.fit(X, y)
        return time.perf_counter() - start

    times = {k: [] for k in labels}
    for r in range(args.rounds):
        for k in (labels if r % 2 == 0 else labels[::-1]):
            times[k].append(run(models[k]))
    new, old = np.array(times[labels[0]]), np.array(times[labels[1]])
    q25, q50, q75 = np.percentile(new / old, [25, 50, 75])
    print(f"workload {args.workload}, {args.measure}, {args.rounds} rounds")
    print(f"  working tree: median {np.median(new):.3f} s")
    print(f"  {args.rev}: median {np.median(old):.3f} s")
    print(f"  paired ratio working tree / {args.rev}: {q50:.3f} (quartiles {q25:.3f}-{q75:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
