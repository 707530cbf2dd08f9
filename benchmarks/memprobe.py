"""Peak resident memory of one framework on one workload, in a fresh process.

``python -m benchmarks.memprobe FRAMEWORK WORKLOAD [N_SAMPLES [BATCH_SIZE]]`` prints one JSON
line: the RSS after imports and data creation (``base_mb``) and the peak RSS
(``VmHWM``) after one training epoch and one ``predict_proba`` over the set
(``peak_mb``). ``predict-large`` measures ``predict_proba`` of a workload-A
network on 100,000 signals of 1,000 timepoints (issue 6: under 2 GB).
"""

import json
import resource
import sys
import warnings


def _rss_mb():
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mb():
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so
    # a probe started from a big parent process would report the parent's peak
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv):
    from threadpoolctl import threadpool_limits

    from .workloads import WORKLOADS

    framework, wname = argv[0], argv[1]
    threadpool_limits(2, user_api="blas")
    warnings.simplefilter("ignore")
    if framework == "predict-large":
        import numpy as np

        from sk1dcnn import CNN1DClassifier

        w = WORKLOADS["A"]
        Xs, ys = w.make_data(seed=1, n_samples=256, n_timepoints=1000)
        clf = CNN1DClassifier(architecture=w.architecture, batch_size=64, max_iter=1,
                              alpha=0.0, random_state=0).fit(Xs, ys)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((100_000, 1, 1000), dtype=np.float32)
        base = _rss_mb()
        clf.predict_proba(X)
        print(json.dumps({"base_mb": base, "peak_mb": _peak_mb(), "data_mb": X.nbytes / 2**20}))
        return 0
    w = WORKLOADS[wname]
    n = int(argv[2]) if len(argv) > 2 else w.n_samples
    batch_size = int(argv[3]) if len(argv) > 3 else w.batch_size
    X, y = w.make_data(seed=0, n_samples=n)
    if framework == "sk1dcnn":
        from sk1dcnn import CNN1DClassifier

        base = _rss_mb()
        clf = CNN1DClassifier(architecture=w.architecture, batch_size=batch_size, max_iter=1,
                              alpha=0.0, random_state=0).fit(X, y)
        clf.predict_proba(X)
    elif framework == "torch":
        import torch

        from .run import torch_predict_proba, torch_train_epoch
        from .workloads import torch_model

        torch.set_num_threads(2)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        base = _rss_mb()
        model = torch_model(w)
        torch_train_epoch(model, Xt, yt, batch_size, seed=0)
        torch_predict_proba(model, Xt, 256)
    else:
        raise SystemExit(f"unknown framework {framework!r}")
    print(json.dumps({"base_mb": base, "peak_mb": _peak_mb(), "data_mb": X.nbytes / 2**20}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
