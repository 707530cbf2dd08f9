"""Interleaved timing of sk1dcnn vs PyTorch (and MLPClassifier) on workloads A and B.

See ``benchmarks/README.md`` for the environment and the exact commands.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .load import kept_section
from .workloads import WORKLOADS, copy_weights_to_torch, torch_model

THREADS = 2
HERE = Path(__file__).resolve().parent
TORCH_CHUNKS = (64, 256, 1024)


# ------------------------------------------------------------------ PyTorch
def torch_train_epoch(model, Xt, yt, batch_size, seed, lr=1e-3):
    """One epoch of minibatch Adam on softmax cross-entropy (like fit(max_iter=1))."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    n = Xt.shape[0]
    perm = torch.randperm(n)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        out = model(Xt[idx])
        loss = F.cross_entropy(out, yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return float(loss)


def torch_predict_proba(model, Xt, chunk):
    import torch

    model.eval()
    with torch.inference_mode():
        outs = [torch.softmax(model(Xt[s:s + chunk]), dim=1) for s in range(0, Xt.shape[0], chunk)]
        return torch.cat(outs).numpy()


# ------------------------------------------------------------------ helpers
def _sk_classifier(workload, seed, max_iter=1, dtype="float32"):
    from sk1dcnn import CNN1DClassifier

    # alpha=0: PyTorch's Adam gets no weight decay either
    return CNN1DClassifier(architecture=workload.architecture, batch_size=workload.batch_size,
                           max_iter=max_iter, alpha=0.0, shuffle=True, random_state=seed,
                           dtype=dtype)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def gemm_peak(dtype=np.float32, n=2048, repeats=5):
    a = np.ones((n, n), dtype=dtype)
    b = np.ones((n, n), dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def machine_info():
    from threadpoolctl import threadpool_info

    import scipy
    import sklearn
    import torch

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
            f"{i.get('num_threads')} threads)" for i in threadpool_info()
            if i.get("user_api") == "blas"]
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "loadavg": os.getloadavg(),
    }


def check_same_forward(workload, n_check=256):
    """Fit sk1dcnn briefly, copy its weights into the PyTorch twin, compare outputs."""
    import torch

    X, y = workload.make_data(seed=1, n_samples=n_check)
    clf = _sk_classifier(workload, seed=0).fit(X, y)
    model = torch_model(workload)
    copy_weights_to_torch(clf.network_, model)
    model.eval()
    with torch.inference_mode():
        logits_t = model(torch.from_numpy(X)).numpy()
    logits_o = clf.network_.forward(np.ascontiguousarray(X.transpose(0, 2, 1)))
    clf.network_.clear_cache()
    np.testing.assert_allclose(logits_o, logits_t, rtol=1e-4, atol=1e-4 * np.abs(logits_t).max())
    P_t = torch_predict_proba(model, torch.from_numpy(X), 64)
    P_o = clf.predict_proba(X)
    np.testing.assert_allclose(P_o, P_t, rtol=1e-4, atol=1e-6)
    return float(np.abs(logits_o - logits_t).max()), float(np.abs(P_o - P_t).max())


def _median(xs):
    return statistics.median(xs)


def bench_workload(workload, repeats, n_samples=None, with_mlp=False, log=print):
    import torch
    from sklearn.neural_network import MLPClassifier

    X, y = workload.make_data(seed=0, n_samples=n_samples)
    n = X.shape[0]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    X_flat = X.reshape(n, -1)

    diff_logit, diff_p = check_same_forward(workload)
    log(f"[{workload.name}] same forward pass on shared weights: max |dlogit| {diff_logit:.2e}, "
        f"max |dP| {diff_p:.2e}")

    # warm-up (allocators, oneDNN primitive caches), and PyTorch's best inference chunk
    clf = _sk_classifier(workload, seed=0).fit(X, y)
    clf.predict_proba(X)
    model = torch_model(workload)
    torch_train_epoch(model, Xt, yt, workload.batch_size, seed=0)
    chunk_times = {c: min(_timed(lambda: torch_predict_proba(model, Xt, c))[0] for _ in range(2))
                   for c in TORCH_CHUNKS}
    chunk = min(chunk_times, key=chunk_times.get)
    log(f"[{workload.name}] PyTorch inference chunk {chunk} "
        f"({', '.join(f'{c}: {t:.2f}s' for c, t in chunk_times.items())})")
    mlp = None
    if with_mlp:
        mlp = MLPClassifier(batch_size=workload.batch_size, max_iter=1, alpha=0.0,
                            random_state=0).fit(X_flat, y)
        mlp.predict_proba(X_flat)

    res = {k: [] for k in ("sk_train", "torch_train", "sk_pred", "torch_pred", "mlp_train",
                           "mlp_pred", "sk_epoch_dur")}
    for r in range(repeats):
        def sk_train():
            c = _sk_classifier(workload, seed=r)
            t, c = _timed(lambda: c.fit(X, y))
            res["sk_train"].append(t)
            res["sk_epoch_dur"].append(c.history_[-1]["dur"])
            return c

        def th_train():
            m = torch_model(workload)
            t, _ = _timed(lambda: torch_train_epoch(m, Xt, yt, workload.batch_size, seed=r))
            res["torch_train"].append(t)
            return m

        def mlp_train():
            m = MLPClassifier(batch_size=workload.batch_size, max_iter=1, alpha=0.0, random_state=r)
            t, m = _timed(lambda: m.fit(X_flat, y))
            res["mlp_train"].append(t)
            return m

        order = [sk_train, th_train] + ([mlp_train] if with_mlp else [])
        if r % 2:
            order.reverse()
        fitted = {f.__name__: f() for f in order}
        preds = {
            "sk_train": lambda: res["sk_pred"].append(_timed(
                lambda: fitted["sk_train"].predict_proba(X))[0]),
            "th_train": lambda: res["torch_pred"].append(_timed(
                lambda: torch_predict_proba(fitted["th_train"], Xt, chunk))[0]),
            "mlp_train": lambda: res["mlp_pred"].append(_timed(
                lambda: fitted["mlp_train"].predict_proba(X_flat))[0]),
        }
        for f in order:
            preds[f.__name__]()
        log(f"[{workload.name}] repeat {r + 1}/{repeats}: train sk1dcnn {res['sk_train'][-1]:.2f}s "
            f"torch {res['torch_train'][-1]:.2f}s | predict sk1dcnn {res['sk_pred'][-1]:.2f}s "
            f"torch {res['torch_pred'][-1]:.2f}s"
            + (f" | MLP {res['mlp_train'][-1]:.2f}s / {res['mlp_pred'][-1]:.3f}s" if with_mlp else ""))

    flops = clf.network_.flops()
    out = {"workload": workload.name, "title": workload.title, "n": n,
           "timepoints": X.shape[2], "flops_fwd": flops, "torch_chunk": chunk,
           "repeats": repeats, "raw": res, "notes": list(workload.notes)}
    for key in ("sk_train", "torch_train", "sk_pred", "torch_pred", "mlp_train", "mlp_pred",
                "sk_epoch_dur"):
        if res[key]:
            out[key] = _median(res[key])
    out["train_ratio"] = out["sk_train"] / out["torch_train"]
    out["pred_ratio"] = out["sk_pred"] / out["torch_pred"]
    out["train_pair_ratios"] = [a / b for a, b in zip(res["sk_train"], res["torch_train"])]
    out["pred_pair_ratios"] = [a / b for a, b in zip(res["sk_pred"], res["torch_pred"])]
    if with_mlp:
        h = mlp.coefs_
        out["mlp_flops_fwd"] = int(sum(2 * w.shape[0] * w.shape[1] for w in h))
        out["mlp_hidden"] = list(mlp.hidden_layer_sizes) if np.ndim(mlp.hidden_layer_sizes) else [
            mlp.hidden_layer_sizes]
    return out


def _exponent(t1, t2):
    """Growth exponent of a doubling: t ~ size**e with e = log2(t2 / t1)."""
    return float(np.log2(t2 / t1))


def bench_scaling(workload, n0, repeats=3, log=print):
    """Epoch times at (n0, T), (2 n0, T) and (n0, 2 T), both frameworks, interleaved.

    Issue 6: doubling n_samples or n_timepoints at most doubles the epoch time
    (exponent <= 1). Two epochs per fit: the second is the steady state; the
    first also pays for faulting in the fresh activation buffers (on these VMs
    the kernel compacts memory for transparent huge pages on first touch, which
    costs more per MB once a process's buffers reach gigabytes). sk1dcnn's time
    is its training loop (``history_``), PyTorch's its epoch loop.
    """
    import torch

    T0 = workload.n_timepoints
    sizes = {"base": (n0, T0), "2n": (2 * n0, T0), "2T": (n0, 2 * T0)}
    data = {k: workload.make_data(seed=0, n_samples=n, n_timepoints=T) for k, (n, T) in sizes.items()}
    times = {(fw, e, k): [] for fw in ("sk1dcnn", "torch") for e in (1, 2) for k in sizes}

    def sk_fit(X, y, seed):
        from sk1dcnn import CNN1DClassifier

        return CNN1DClassifier(architecture=workload.architecture, batch_size=workload.batch_size,
                               max_iter=2, tol=0.0, n_iter_no_change=100, alpha=0.0,
                               random_state=seed).fit(X, y)

    for k, (X, y) in data.items():  # warm-up at every size
        sk_fit(X, y, 0)
        torch_train_epoch(torch_model(workload), torch.from_numpy(X), torch.from_numpy(y),
                          workload.batch_size, seed=0)
    for r in range(repeats):
        for k, (X, y) in data.items():
            c = sk_fit(X, y, r)
            for e in (1, 2):
                times[("sk1dcnn", e, k)].append(c.history_[e - 1]["dur"])
            m = torch_model(workload)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            for e in (1, 2):
                t, _ = _timed(lambda: torch_train_epoch(m, Xt, yt, workload.batch_size, seed=r))
                times[("torch", e, k)].append(t)
    med = {key: _median(v) for key, v in times.items()}
    out = {"workload": workload.name, "n0": n0, "T0": T0, "repeats": repeats,
           "times": {f"{fw}/e{e}/{k}": v for (fw, e, k), v in med.items()}}
    for fw in ("sk1dcnn", "torch"):
        for e in (1, 2):
            out[f"{fw}_e{e}_exp_n"] = _exponent(med[(fw, e, "base")], med[(fw, e, "2n")])
            out[f"{fw}_e{e}_exp_T"] = _exponent(med[(fw, e, "base")], med[(fw, e, "2T")])
    log(f"[{workload.name}] scaling: {json.dumps(out)}")
    return out


def bench_float64(workload, n_samples, repeats=3, log=print):
    """sk1dcnn in float64 vs float32 (and PyTorch in float64 vs float32), one epoch + predict."""
    import torch

    X, y = workload.make_data(seed=0, n_samples=n_samples)
    X64 = X.astype(np.float64)
    res = {k: [] for k in ("sk32_train", "sk64_train", "sk32_pred", "sk64_pred",
                           "th32_train", "th64_train")}
    _sk_classifier(workload, 0, dtype="float64").fit(X64, y)  # warm-up
    for r in range(repeats):
        for dt, XX in (("32", X), ("64", X64)):
            c = _sk_classifier(workload, r, dtype=f"float{dt}")
            t, c = _timed(lambda: c.fit(XX, y))
            res[f"sk{dt}_train"].append(t)
            res[f"sk{dt}_pred"].append(_timed(lambda: c.predict_proba(XX))[0])
            m = torch_model(workload)
            Xt = torch.from_numpy(XX)
            if dt == "64":
                m = m.double()
            t, _ = _timed(lambda: torch_train_epoch(m, Xt, torch.from_numpy(y),
                                                    workload.batch_size, seed=r))
            res[f"th{dt}_train"].append(t)
    out = {k: _median(v) for k, v in res.items()}
    out.update(workload=workload.name, n=n_samples, repeats=repeats)
    log(f"[{workload.name}] float64: {json.dumps(out)}")
    return out


def memory_probe(framework, workload_name, n_samples=None, timeout=1800, batch_size=None):
    cmd = [sys.executable, "-m", "benchmarks.memprobe", framework, workload_name]
    if n_samples or batch_size:
        cmd.append(str(n_samples or WORKLOADS[workload_name].n_samples))
    if batch_size:
        cmd.append(str(batch_size))
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def _fmt_range(xs):
    return f"{min(xs):.2f}-{max(xs):.2f}"


def render_extra(scaling, f64, train_mem):
    """Markdown for the scaling exponents, float64 mode and training memory."""
    lines = []
    if scaling:
        lines += ["## Cost growth (issue 6: doubling n_samples or n_timepoints at most doubles "
                  "the epoch time)", "",
                  "| workload | base size | epoch | sk1dcnn base / 2n / 2T (s) | sk1dcnn exponent "
                  "n / T | PyTorch base / 2n / 2T (s) | PyTorch exponent n / T |",
                  "|---|---|---|---|---|---|---|"]
        for sc in scaling:
            t = sc["times"]
            for e, label in ((2, "second (steady)"), (1, "first (+ fresh buffers)")):
                lines.append(
                    (f"| {sc['workload']} | {sc['n0']} x {sc['T0']} | " if e == 2 else "| | | ")
                    + f"{label} | "
                    f"{t[f'sk1dcnn/e{e}/base']:.2f} / {t[f'sk1dcnn/e{e}/2n']:.2f} / "
                    f"{t[f'sk1dcnn/e{e}/2T']:.2f} | "
                    f"**{sc[f'sk1dcnn_e{e}_exp_n']:.2f} / {sc[f'sk1dcnn_e{e}_exp_T']:.2f}** | "
                    f"{t[f'torch/e{e}/base']:.2f} / {t[f'torch/e{e}/2n']:.2f} / "
                    f"{t[f'torch/e{e}/2T']:.2f} | "
                    f"{sc[f'torch_e{e}_exp_n']:.2f} / {sc[f'torch_e{e}_exp_T']:.2f} |")
        lines += ["", "Exponent e = log2(t(2x) / t(x)): 1 is linear. Medians of "
                  f"{scaling[0]['repeats']} interleaved repeats of a two-epoch fit. The first "
                  "epoch also faults in the fresh activation buffers (transparent huge pages "
                  "compacted on first touch on these VMs; it grows faster than linearly once "
                  "a fit's buffers reach gigabytes, e.g. B at 2T); the second is the steady "
                  "state.", ""]
    if f64:
        r = f64
        lines += ["## float64 mode (`dtype='float64'`: the exact, slower option)", "",
                  "| workload | measure | float32 | float64 | float64 / float32 |", "|---|---|---|---|---|",
                  f"| {r['workload']} ({r['n']} samples) | sk1dcnn training epoch (s) | "
                  f"{r['sk32_train']:.2f} | {r['sk64_train']:.2f} | {r['sk64_train'] / r['sk32_train']:.2f} |",
                  f"| | sk1dcnn predict_proba (s) | {r['sk32_pred']:.2f} | {r['sk64_pred']:.2f} | "
                  f"{r['sk64_pred'] / r['sk32_pred']:.2f} |",
                  f"| | PyTorch training epoch (s) | {r['th32_train']:.2f} | {r['th64_train']:.2f} | "
                  f"{r['th64_train'] / r['th32_train']:.2f} |",
                  f"| | sk1dcnn float64 / PyTorch float64, training | | | "
                  f"**{r['sk64_train'] / r['th64_train']:.2f}** |", ""]
    if train_mem:
        lines += ["## Training memory (sk1dcnn: grows with the batch, not with the data set)", "",
                  "| workload | n_samples | batch_size | data (MB) | peak RSS above imports + data (MB) |",
                  "|---|---|---|---|---|"]
        for row in train_mem:
            lines.append(f"| {row['workload']} | {row['n']:,} | {row['batch_size']} | "
                         f"{row['data_mb']:.0f} | {row['peak_mb'] - row['base_mb']:.0f} |")
        lines += ["", "One training epoch + one `predict_proba`, each configuration in a fresh "
                  "process (`benchmarks/memprobe.py`).", ""]
    return lines


def render(info, peak32, peak64, results, mem, large, quick, extra=()):
    lines = ["# Benchmark results: sk1dcnn vs PyTorch (CPU)", ""]
    if quick:
        lines += ["**Quick run** (smaller data, fewer repeats): indicative only.", ""]
    lines += [
        f"- Date: {info['date']}; command: `{info.get('command', 'python -m benchmarks')}`",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GiB; "
        f"1-minute load average {info['loadavg'][0]:.1f} at the start"
        + (f", {info['loadavg_end'][0]:.1f} at the end" if info.get("loadavg_end") else "")
        + " (other sessions share this machine: compare ratios from this one interleaved "
        "run, not absolute times across runs; a load above the 2 cores slows "
        "multithreaded BLAS and OpenMP alike, and the GEMM peak below was measured "
        "under the same load)",
        f"- Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
        f"scikit-learn {info['sklearn']}, PyTorch {info['torch']} (CPU, oneDNN)",
        f"- Threads: BLAS {'; '.join(info['blas'])}; torch.set_num_threads({info['torch_threads']}); "
        f"OPENBLAS_CORETYPE {info['openblas_coretype']}",
        f"- float32 throughout. Measured GEMM peak (2048^3): {peak32:.0f} GFLOP/s float32, "
        f"{peak64:.0f} GFLOP/s float64",
        "- Training = one epoch through the public API (`CNN1DClassifier(architecture=..., "
        "batch_size=64, max_iter=1, alpha=0).fit(X, y)`) vs a plain PyTorch epoch loop "
        "(Adam, cross-entropy, batch 64); inference = `predict_proba` over the whole set vs "
        "PyTorch `inference_mode` softmax in its fastest chunk size. Medians over repeats, "
        "the two frameworks alternating within each repeat. GFLOP/s counts the convolution "
        "and dense matrix products (training = 3x forward).",
        "",
        "| workload | measure | sk1dcnn | PyTorch | ratio sk1dcnn/PyTorch (per-repeat range) | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        wl = f"{r['workload']} ({r['title']}, {r['n']}x1x{r['timepoints']})"
        n = r["n"]
        f_train = 3 * r["flops_fwd"] * n / 1e9
        f_pred = r["flops_fwd"] * n / 1e9
        lines.append(f"| {wl} | training epoch (s) | {r['sk_train']:.2f} | {r['torch_train']:.2f} | "
                     f"**{r['train_ratio']:.2f}** ({_fmt_range(r['train_pair_ratios'])}) | <= 0.8 |")
        lines.append(f"| | predict_proba, whole set (s) | {r['sk_pred']:.2f} | {r['torch_pred']:.2f} | "
                     f"**{r['pred_ratio']:.2f}** ({_fmt_range(r['pred_pair_ratios'])}) | <= 1.0 |")
        lines.append(f"| | inference (samples/s) | {n / r['sk_pred']:,.0f} | {n / r['torch_pred']:,.0f} | | |")
        lines.append(f"| | training GFLOP/s (% of GEMM peak) | {f_train / r['sk_train']:.0f} "
                     f"({100 * f_train / r['sk_train'] / peak32:.0f}%) | {f_train / r['torch_train']:.0f} "
                     f"({100 * f_train / r['torch_train'] / peak32:.0f}%) | | >= 50% |")
        lines.append(f"| | inference GFLOP/s | {f_pred / r['sk_pred']:.0f} | {f_pred / r['torch_pred']:.0f} | | |")
        m = mem.get(r["workload"])
        if m:
            lines.append(f"| | peak RSS, train epoch + predict (MB; above imports+data) | "
                         f"{m['sk1dcnn']['peak_mb']:.0f} ({m['sk1dcnn']['peak_mb'] - m['sk1dcnn']['base_mb']:+.0f}) | "
                         f"{m['torch']['peak_mb']:.0f} ({m['torch']['peak_mb'] - m['torch']['base_mb']:+.0f}) | | |")
        if "mlp_train" in r:
            f_mlp = 3 * r["mlp_flops_fwd"] * n / 1e9
            lines.append(f"| | MLPClassifier{tuple(r['mlp_hidden'])} on flattened X: epoch (s) / "
                         f"predict_proba (s) / training GFLOP/s | {r['mlp_train']:.2f} / "
                         f"{r['mlp_pred']:.3f} / {f_mlp / r['mlp_train']:.1f} | | | |")
    lines.append("")
    if large is not None:
        lines.append(f"- `predict_proba` of a workload-A network on 100,000 x 1 x 1,000 float32 "
                     f"signals: peak RSS {large['peak_mb']:.0f} MB, of which the input data "
                     f"{large['data_mb']:.0f} MB (target: under 2 GB).")
    for r in results:
        for note in r["notes"]:
            lines.append(f"- Workload {r['workload']}: {note}")
        lines.append(f"- Workload {r['workload']}: {r['flops_fwd'] / 1e6:.2f} MFLOP forward per "
                     f"sample ({3 * r['flops_fwd'] / 1e6:.1f} per training sample); PyTorch "
                     f"inference chunk {r['torch_chunk']}; sk1dcnn's own epoch time "
                     f"(`history_[-1]['dur']`, training loop only) {r['sk_epoch_dur']:.2f} s; "
                     f"{r['repeats']} repeats.")
    lines.append("- Both frameworks compute the same forward pass: the benchmark copies "
                 "sk1dcnn's fitted weights into the PyTorch model and asserts equal logits and "
                 "probabilities (rtol 1e-4) before timing.")
    lines.append("")
    lines += list(extra)
    return "\n".join(lines)


def _run_memory_probes(names):
    mem, large = {}, None
    for name in names:
        mem[name] = {fw: memory_probe(fw, name) for fw in ("sk1dcnn", "torch")}
        print(f"[{name}] peak RSS: {mem[name]}")
    if "A" in names:
        large = memory_probe("predict-large", "A")
        print(f"predict 100k x 1000: {large}")
    return mem, large


def _memory_only(names, args):
    out = Path(args.output or HERE / "RESULTS.md")
    saved = json.loads(out.with_suffix(".json").read_text())
    results = [r for r in saved["results"] if r["workload"] in names]
    mem, large = _run_memory_probes(names)
    extra = render_extra(saved.get("scaling") or [], saved.get("float64"),
                         saved.get("train_memory") or [])
    text = render(saved["info"], *saved["gemm_peak"], results, mem, large, False, extra)
    print(text)
    kept = kept_section(out)
    out.write_text(text + ("\n" + kept + "\n" if kept else ""))
    saved.update(memory=mem, predict_large=large)
    out.with_suffix(".json").write_text(json.dumps(saved, indent=1, default=str))
    print(f"wrote {out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--workload", choices=("A", "B", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repeats (default 5; 2 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a quarter of the samples, 2 repeats, no memory probes; "
                             "prints the table instead of writing RESULTS.md")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS probes")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the cost-growth (doubling) and float64 measurements")
    parser.add_argument("--memory-only", action="store_true",
                        help="rerun only the peak-RSS probes and rewrite the table from "
                             "the timings kept in benchmarks/RESULTS.json")
    parser.add_argument("--output", default=None,
                        help="markdown file to write (default benchmarks/RESULTS.md; "
                             "none with --quick)")
    args = parser.parse_args(argv)

    try:
        import torch
    except ImportError:
        print("PyTorch is not installed here: run the benchmark in its own venv "
              "(see benchmarks/README.md).", file=sys.stderr)
        return 2
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    torch.set_num_threads(THREADS)
    limiter = threadpool_limits(THREADS, user_api="blas")  # noqa: F841 - kept for the run
    repeats = args.repeats or (2 if args.quick else 5)
    names = ["A", "B"] if args.workload == "all" else [args.workload]
    if args.memory_only:
        return _memory_only(names, args)
    info = machine_info()
    info["command"] = " ".join(["python -m benchmarks"] + sys.argv[1:])
    if info["openblas_coretype"] != "unset":
        print(f"warning: OPENBLAS_CORETYPE={info['openblas_coretype']} slows a current "
              f"OpenBLAS; see benchmarks/README.md", file=sys.stderr)
    print(json.dumps({k: v for k, v in info.items()}, default=str))
    peak32, peak64 = gemm_peak(np.float32), gemm_peak(np.float64)
    print(f"GEMM peak 2048^3: float32 {peak32:.0f} GFLOP/s, float64 {peak64:.0f} GFLOP/s")

    results = []
    for name in names:
        w = WORKLOADS[name]
        n = w.n_samples // 4 if args.quick else None
        results.append(bench_workload(w, repeats, n_samples=n, with_mlp=name == "A"))

    scaling, f64 = [], None
    if not (args.quick or args.no_scaling):
        for name in names:
            w = WORKLOADS[name]
            scaling.append(bench_scaling(w, n0=w.n_samples // 4 if name == "A" else 64))
        if "A" in names:
            f64 = bench_float64(WORKLOADS["A"], n_samples=2048)

    mem, large, train_mem = {}, None, []
    if not (args.quick or args.no_memory):
        mem, large = _run_memory_probes(names)
        if "A" in names:
            for n, bs in ((8192, 64), (16384, 64), (8192, 256)):
                row = memory_probe("sk1dcnn", "A", n_samples=n, batch_size=bs)
                row.update(workload="A", n=n, batch_size=bs)
                train_mem.append(row)
                print(f"[A] training memory n={n} batch={bs}: {row}")

    info["loadavg_end"] = os.getloadavg()
    extra = render_extra(scaling, f64, train_mem)
    text = render(info, peak32, peak64, results, mem, large, args.quick, extra)
    print(text)
    out = args.output or (None if args.quick else str(HERE / "RESULTS.md"))
    if out:
        kept = kept_section(out)  # the load benchmark's and the UCR panel's sections stay
        Path(out).write_text(text + ("\n" + kept + "\n" if kept else ""))
        Path(out).with_suffix(".json").write_text(json.dumps(
            {"info": info, "gemm_peak": [peak32, peak64], "results": results, "memory": mem,
             "predict_large": large, "scaling": scaling, "float64": f64,
             "train_memory": train_mem}, indent=1, default=str))
        print(f"wrote {out}")
    return 0
