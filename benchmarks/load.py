"""Speed under load: sk1dcnn and PyTorch next to other busy processes.

``python -m benchmarks load [--quick] [--repeats 3] [--variants auto,1,2]``

Three tasks: a default ``CNN1DClassifier(max_iter=60)`` fit on ECG200 (the
shipped UCR set, 100 x 96), workload A's training epoch and workload A's
``predict_proba`` over the whole set (``benchmarks/workloads.py``). PyTorch runs
the same networks (for ECG200 the default network: three Conv(k5, same)-ReLU-
MaxPool2 blocks of 16, 32, 64 filters, Flatten, Dense 64-ReLU, one logit; Adam,
one batch of 100, 60 epochs).

Four conditions: idle; next to one process multiplying 1000 x 1000 float64
matrices with NumPy on its default BLAS threads; next to one pure-Python busy
loop; next to two. Each competitor is a child process, started a second before
the timings of its condition and killed after them.

Interleaving: repeat after repeat, every condition runs in turn (the order
rotates each repeat), and within it the frameworks alternate (the order flips).
A slowdown is a condition's median time over the idle median of the same task
and framework; the worst single run is also over the idle median. The machine
is shared, so "idle" means "without our competitor": the table gives the load
average at the start and end.

sk1dcnn runs with its default ``n_threads=None`` (the pool has 2 BLAS threads,
as in ``python -m benchmarks``); ``--variants auto,1,2`` adds fixed
``n_threads=1`` and ``n_threads=2`` columns. PyTorch: ``torch.set_num_threads(2)``.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
THREADS = 2
BEGIN = "<!-- begin: python -m benchmarks load -->"
END = "<!-- end: python -m benchmarks load -->"

CONDITIONS = ("idle", "numpy", "busy1", "busy2")
CONDITION_TITLES = {
    "idle": "idle",
    "numpy": "next to a NumPy matmul process (default BLAS threads)",
    "busy1": "next to 1 pure-Python busy loop",
    "busy2": "next to 2 pure-Python busy loops",
}
_MATMUL = ("import numpy as np\n"
           "a = np.random.default_rng(0).random((1000, 1000)); b = a.copy()\n"
           "while True:\n    a @ b\n")
_BUSY = "while True:\n    pass\n"
#: one target per competing process of either kind (issue 14)
TARGET_MEDIAN, TARGET_MAX = 2.5, 3.0


# ------------------------------------------------------------------ competitors
def _competitor_env():
    """The environment minus every thread cap: the competitor uses its default threads."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env.pop(var, None)
    return env


def start_competitors(condition, settle=1.0):
    """Child processes of ``condition`` (none when idle), given ``settle`` s to start."""
    codes = {"idle": [], "numpy": [_MATMUL], "busy1": [_BUSY], "busy2": [_BUSY, _BUSY]}[condition]
    procs = [subprocess.Popen([sys.executable, "-c", code], env=_competitor_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for code in codes]
    if procs:
        time.sleep(settle)
    return procs


def stop_competitors(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


# ------------------------------------------------------------------ tasks
def _ecg200():
    from sk1dcnn.datasets import load_ucr

    X, y = load_ucr("ECG200", split="train")
    return X, y


def _torch_default_net(n_timepoints):
    """The default CNN1DClassifier network (binary: one logit) in PyTorch."""
    import torch.nn as nn

    layers, c_in, t = [], 1, n_timepoints
    for f in (16, 32, 64):
        layers += [nn.Conv1d(c_in, f, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2)]
        c_in, t = f, t // 2
    layers += [nn.Flatten(), nn.Linear(c_in * t, 64), nn.ReLU(), nn.Linear(64, 1)]
    return nn.Sequential(*layers)


def _torch_fit_default(Xt, yt, seed, epochs=60, batch_size=100):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = _torch_default_net(Xt.shape[2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = Xt.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.binary_cross_entropy_with_logits(model(Xt[idx])[:, 0], yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def make_tasks(variants, with_torch, quick):
    """{task: {framework: callable(repeat)}}: what one timed run of each does."""
    from sk1dcnn import CNN1DClassifier

    from .run import torch_predict_proba, torch_train_epoch
    from .workloads import WORKLOADS, torch_model

    Xe, ye = _ecg200()
    w = WORKLOADS["A"]
    Xa, ya = w.make_data(seed=0, n_samples=w.n_samples // 4 if quick else None)

    def sk_params(variant):
        return {} if variant == "auto" else {"n_threads": int(variant)}

    def sk_name(variant):
        return "sk1dcnn" if variant == "auto" else f"sk1dcnn n_threads={variant}"

    fitted = {v: CNN1DClassifier(architecture=w.architecture, batch_size=64, max_iter=1,
                                 alpha=0.0, random_state=0, **sk_params(v)).fit(Xa, ya)
              for v in variants}
    tasks = {"ECG200 default fit (max_iter=60)": {},
             f"A training epoch ({Xa.shape[0]} x 1 x {Xa.shape[2]})": {},
             f"A predict_proba ({Xa.shape[0]} signals)": {}}
    ecg, a_fit, a_pred = tasks
    for v in variants:
        tasks[ecg][sk_name(v)] = lambda r, v=v: CNN1DClassifier(
            max_iter=60, random_state=r, **sk_params(v)).fit(Xe, ye)
        tasks[a_fit][sk_name(v)] = lambda r, v=v: CNN1DClassifier(
            architecture=w.architecture, batch_size=64, max_iter=1, alpha=0.0,
            random_state=r, **sk_params(v)).fit(Xa, ya)
        tasks[a_pred][sk_name(v)] = lambda r, v=v: fitted[v].predict_proba(Xa)
    if with_torch:
        import torch

        Xet = torch.from_numpy(Xe[:, None, :].astype(np.float32))
        yet = torch.from_numpy((ye == ye.max()).astype(np.float32))
        Xat, yat = torch.from_numpy(Xa), torch.from_numpy(ya)
        model = torch_model(w)
        torch_train_epoch(model, Xat, yat, 64, seed=0)
        tasks[ecg]["PyTorch"] = lambda r: _torch_fit_default(Xet, yet, seed=r)
        tasks[a_fit]["PyTorch"] = lambda r: torch_train_epoch(torch_model(w), Xat, yat, 64, seed=r)
        tasks[a_pred]["PyTorch"] = lambda r: torch_predict_proba(model, Xat, 64)
    return tasks


# ------------------------------------------------------------------ measuring
def measure(tasks, conditions, repeats, log=print):
    """{(task, framework, condition): [seconds per repeat]}, interleaved."""
    times = {(t, fw, c): [] for t in tasks for fw in tasks[t] for c in conditions}
    for t, fws in tasks.items():  # warm-up, idle
        for fw, fn in fws.items():
            fn(0)
    for r in range(repeats):
        k = r % len(conditions)
        for c in conditions[k:] + conditions[:k]:
            procs = start_competitors(c)
            try:
                for i, (t, fws) in enumerate(tasks.items()):
                    order = list(fws) if (r + i) % 2 == 0 else list(fws)[::-1]
                    for fw in order:
                        t0 = time.perf_counter()
                        fws[fw](r)
                        times[(t, fw, c)].append(time.perf_counter() - t0)
            finally:
                stop_competitors(procs)
            log(f"repeat {r + 1}/{repeats} {c:6s} load {os.getloadavg()[0]:5.2f}: " + "; ".join(
                f"{fw} {times[(t, fw, c)][-1]:.2f}s" for t in tasks for fw in tasks[t]))
    return times


def summarize(times, tasks, conditions):
    """Rows of (task, framework, idle median, {condition: (median ratio, max ratio)})."""
    rows = []
    for t in tasks:
        for fw in tasks[t]:
            idle = statistics.median(times[(t, fw, "idle")])
            ratios = {c: (statistics.median(times[(t, fw, c)]) / idle,
                          max(times[(t, fw, c)]) / idle) for c in conditions if c != "idle"}
            rows.append((t, fw, idle, ratios))
    return rows


def check_targets(rows):
    """Lines naming every sk1dcnn (default) figure that misses a target; empty when all hold."""
    misses = []
    torch_rows = {t: r for t, fw, _, r in rows if fw == "PyTorch"}
    for t, fw, _, ratios in rows:
        if fw != "sk1dcnn":
            continue
        for c in ("numpy", "busy1"):
            if c not in ratios:
                continue
            med, worst = ratios[c]
            if med > TARGET_MEDIAN:
                misses.append(f"{t}, {c}: median slowdown {med:.2f}x > {TARGET_MEDIAN}x")
            if worst > TARGET_MAX:
                misses.append(f"{t}, {c}: worst run {worst:.2f}x > {TARGET_MAX}x")
            if t in torch_rows and c in torch_rows[t] and med > torch_rows[t][c][0]:
                misses.append(f"{t}, {c}: median slowdown {med:.2f}x > PyTorch's "
                              f"{torch_rows[t][c][0]:.2f}x")
    return misses


def render(info, rows, conditions, repeats, misses, quick):
    load = [c for c in conditions if c != "idle"]
    lines = [BEGIN, "## Speed under load (`python -m benchmarks load`)", ""]
    if quick:
        lines += ["**Quick run** (workload A at a quarter of the samples): indicative only.", ""]
    lines += [
        f"- Date: {info['date']}; command: `{info['command']}`; 1-minute load average "
        f"{info['loadavg_start'][0]:.1f} at the start, {info['loadavg_end'][0]:.1f} at the end "
        "(other sessions share this machine: \"idle\" is without our competitor, not an idle "
        "machine)",
        f"- {info['cores']} cores; sk1dcnn: a pool of {THREADS} BLAS threads "
        f"({info['blas']}), `n_threads=None` unless named; PyTorch "
        f"`torch.set_num_threads({THREADS})`",
        "- Slowdown = median of the condition's runs / median of the idle runs (worst single "
        f"run / idle median in parentheses); {repeats} runs per cell, conditions and "
        "frameworks interleaved. Targets (issue 14) next to one competing process: median "
        f"<= {TARGET_MEDIAN}x, worst run <= {TARGET_MAX}x, and no worse than PyTorch.",
        "",
        "| task | framework | idle (s) | " + " | ".join(CONDITION_TITLES[c] for c in load) + " |",
        "|---|---|---|" + "---|" * len(load),
    ]
    last = None
    for t, fw, idle, ratios in rows:
        cells = [f"{'**' if fw == 'sk1dcnn' else ''}{ratios[c][0]:.2f}x"
                 f"{'**' if fw == 'sk1dcnn' else ''} ({ratios[c][1]:.2f}x)" for c in load]
        lines.append(f"| {t if t != last else ''} | {fw} | {idle:.2f} | " + " | ".join(cells) + " |")
        last = t
    lines.append("")
    if misses:
        lines += ["Targets missed:", ""] + [f"- {m}" for m in misses]
    else:
        lines.append("All sk1dcnn targets held in this run.")
    lines += ["", END]
    return "\n".join(lines)


def merge_section(old_text, section):
    """``old_text`` with its load section replaced by ``section`` (appended if absent)."""
    if BEGIN in old_text and END in old_text:
        head, rest = old_text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return old_text.rstrip("\n") + "\n\n" + section + "\n"


#: Sections of RESULTS.md that other benchmarks write: the load benchmark's and the UCR panel's
#: (``benchmarks/ucr.py`` writes between the second pair of markers).
KEPT_MARKERS = ((BEGIN, END), ("<!-- ucr-panel:begin -->", "<!-- ucr-panel:end -->"))


def kept_section(path):
    """The sections of the markdown file at ``path`` that other benchmarks own (the load
    benchmark's, the UCR panel's), in that order, separated by a blank line ('' if none):
    ``python -m benchmarks`` rewrites RESULTS.md and keeps them."""
    try:
        text = Path(path).read_text()
    except OSError:
        return ""
    parts = [begin + text.split(begin, 1)[1].split(end, 1)[0] + end
             for begin, end in KEPT_MARKERS if begin in text and end in text]
    return "\n\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks load",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="workload A at a quarter of the samples; prints the table "
                             "instead of writing RESULTS.md")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--variants", default="auto",
                        help="sk1dcnn n_threads settings, comma-separated: auto (None), 1, 2")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"subset of {','.join(CONDITIONS)} (idle is always measured)")
    parser.add_argument("--no-torch", action="store_true", help="sk1dcnn only")
    parser.add_argument("--output", default=None,
                        help="markdown file whose load section to write (default "
                             "benchmarks/RESULTS.md; none with --quick)")
    args = parser.parse_args(argv)
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed here: run the benchmark in its own venv "
                  "(see benchmarks/README.md), or pass --no-torch.", file=sys.stderr)
            return 2
        torch.set_num_threads(THREADS)
    from threadpoolctl import threadpool_info, threadpool_limits

    warnings.simplefilter("ignore")
    limiter = threadpool_limits(THREADS, user_api="blas")  # noqa: F841 - kept for the run
    conditions = ["idle"] + [c for c in args.conditions.split(",") if c in CONDITIONS and c != "idle"]
    variants = [v.strip() for v in args.variants.split(",")]
    info = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "command": " ".join(["python -m benchmarks load"] + (argv if argv is not None else sys.argv[1:])),
            "cores": os.cpu_count(), "loadavg_start": os.getloadavg(),
            "blas": "; ".join(f"{i.get('internal_api')} {i.get('version')}"
                              for i in threadpool_info() if i.get("user_api") == "blas")}
    print(json.dumps(info), flush=True)
    tasks = make_tasks(variants, with_torch, args.quick)
    times = measure(tasks, conditions, args.repeats)
    info["loadavg_end"] = os.getloadavg()
    rows = summarize(times, tasks, conditions)
    misses = check_targets(rows)
    text = render(info, rows, conditions, args.repeats, misses, args.quick)
    print(text)
    out = args.output or (None if args.quick else str(HERE / "RESULTS.md"))
    if out:
        old = Path(out).read_text() if Path(out).exists() else ""
        Path(out).write_text(merge_section(old, text))
        Path(out).with_name("RESULTS_load.json").write_text(json.dumps(
            {"info": info, "times": [{"task": t, "framework": fw, "condition": c, "seconds": v}
                                     for (t, fw, c), v in times.items()]}, indent=1))
        print(f"wrote {out}")
    return 0
