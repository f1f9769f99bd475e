"""Speed of checking a user's own forward/backward, measured side by side in fresh processes.

Run:  python benchmarks/bench_user_code.py [--repeat R] [--sizes 47,951,11361,41217]
                                           [--large 164737,984321] [--blas-threads N]

The user's code is an L-layer ReLU network with a sigmoid output and the naive cost, in
the notebook's convention (``forward(X, Y, parameters) -> (cost, cache)``,
``backward(X, Y, cache) -> gradients``), written here as a user writes it: gcverify sees
plain functions, not its reference network (whose batched path is not this path).

Every figure comes from a fresh process that imports, times one call (the *first*: what
a test that checks once per process gets), and for the warm figure the same call again.
Modes, each on the correct backprop and on ``dW2 × 2``, the verdict printed beside the
time:

* ``notebook``: the notebook's ``gradient_check_n`` loop (dictionary_to_vector, two
  forward calls per coordinate, ε = 1e-7, threshold 2e-7), generalised to any layout;
* ``gcverify``: :func:`gcverify.check_backprop`, all coordinates, ``jobs`` = every core
  (the default), and ``gcverify jobs=1``; ``gcverify warm``: the second call;
* ``sample=5``: five coordinates per block;
* ``torch``: ``torch.autograd.gradcheck`` (double precision, the hand-written backward
  wrapped in a ``torch.autograd.Function``), by default and with ``fast_mode=True``
  (skipped, and said so, when torch is not installed).

Per mode: the best wall-clock time of ``R`` runs (the least noisy estimate; the repeats
go round all the modes of a size, so that each meets the machine's load alike), the peak
resident set size of the process (``ru_maxrss``, workers included), its minor page faults
during the call, and its CPU time (workers included: the work done, whatever the load).
Ratios are notebook / mode, from the same run: wall-clock time, and CPU time in
parentheses. The full check runs up to P = 41,217; ``sample=5`` and torch's fast mode
also on the ``--large`` sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

#: Networks by parameter count: (layer sizes, examples m).
NETWORKS = {
    47: ((4, 5, 3, 1), 3),
    951: ((20, 30, 10, 1), 16),
    11361: ((100, 80, 40, 1), 32),
    41217: ((256, 128, 64, 1), 64),
    164737: ((512, 256, 128, 1), 64),
    984321: ((1024, 768, 256, 1), 64),
}
FULL_MODES = ("notebook", "gcverify", "gcverify jobs=1", "gcverify warm", "sample=5",
              "torch", "torch fast")
LARGE_MODES = ("sample=5", "torch fast")
# Beyond this many parameters torch's fast mode on a bug falls back to its full check:
# not run (it would take as long as "torch").
TORCH_FULL_LIMIT = 41217


# --- the user's code ------------------------------------------------------------------------

def init_parameters(dims: tuple[int, ...], seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(
            2 / dims[l - 1])
        parameters[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    return parameters


def make_data(dims: tuple[int, ...], m: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((dims[0], m)), (rng.random((1, m)) > 0.5).astype(float)


def forward(X: np.ndarray, Y: np.ndarray, parameters: dict) -> tuple[float, Any]:
    L = len(parameters) // 2
    m = X.shape[1]
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = np.dot(W, A) + b
        caches.append((A, W, b, Z))
        A = np.maximum(0, Z) if l < L else 1 / (1 + np.exp(-Z))
    cost = -1.0 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return cost, (caches, A)


def backward(X: np.ndarray, Y: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    caches, AL = cache
    L, m = len(caches), X.shape[1]
    gradients, dA = {}, None
    for l in range(L, 0, -1):
        A_prev, W, _, Z = caches[l - 1]
        dZ = AL - Y if l == L else dA * (Z > 0)
        gradients[f"dW{l}"] = 1.0 / m * np.dot(dZ, A_prev.T)
        gradients[f"db{l}"] = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
        dA = np.dot(W.T, dZ)
    return gradients


def backward_dW2_doubled(X: np.ndarray, Y: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    gradients = backward(X, Y, cache)
    gradients["dW2"] = gradients["dW2"] * 2
    return gradients


# --- the modes (run in a child) -------------------------------------------------------------

def notebook_check(X, Y, parameters, back, epsilon: float = 1e-7) -> str:
    """``gradient_check_n``'s algorithm, line for line, for any layout."""
    names = list(parameters)
    shapes = [parameters[n].shape for n in names]
    parameters_values = np.concatenate([parameters[n].reshape(-1, 1) for n in names])
    gradients = back(X, Y, forward(X, Y, parameters)[1])
    grad = np.concatenate([gradients["d" + n].reshape(-1, 1) for n in names])

    ends = np.cumsum([int(np.prod(shape)) for shape in shapes]).tolist()
    spans = list(zip(names, [0, *ends], ends, shapes))

    def vector_to_dictionary(theta):
        return {name: theta[start:stop].reshape(shape) for name, start, stop, shape in spans}

    num_parameters = parameters_values.shape[0]
    J_plus, J_minus = np.zeros((num_parameters, 1)), np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i][0] += epsilon
        J_plus[i], _ = forward(X, Y, vector_to_dictionary(theta_plus))
        theta_minus = np.copy(parameters_values)
        theta_minus[i][0] -= epsilon
        J_minus[i], _ = forward(X, Y, vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return "FAIL" if numerator / denominator > 2e-7 else "PASS"


def gcverify_check(X, Y, parameters, back, **options: Any) -> str:
    from gcverify import check_backprop
    return check_backprop(forward, back, X, Y, parameters, **options).verdict.name


def torch_check(X, Y, parameters, back, fast_mode: bool) -> str:
    import torch

    names = list(parameters)

    class UserCode(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):
            p = {n: t.detach().numpy().copy() for n, t in zip(names, tensors)}
            cost, cache = forward(X, Y, p)
            ctx.cache = cache
            return torch.tensor(float(cost), dtype=torch.float64)

        @staticmethod
        def backward(ctx, grad_output):
            gradients = back(X, Y, ctx.cache)
            return tuple(grad_output * torch.from_numpy(np.asarray(gradients["d" + n]))
                         for n in names)

    inputs = tuple(torch.tensor(parameters[n], dtype=torch.float64, requires_grad=True)
                   for n in names)
    passed = torch.autograd.gradcheck(UserCode.apply, inputs, fast_mode=fast_mode,
                                      raise_exception=False)
    return "PASS" if passed else "FAIL"


def run_mode(mode: str, X, Y, parameters, back) -> str:
    if mode == "notebook":
        return notebook_check(X, Y, parameters, back)
    if mode in ("gcverify", "gcverify warm"):
        return gcverify_check(X, Y, parameters, back)
    if mode == "gcverify jobs=1":
        return gcverify_check(X, Y, parameters, back, jobs=1)
    if mode == "sample=5":
        return gcverify_check(X, Y, parameters, back, sample=5)
    if mode == "torch":
        return torch_check(X, Y, parameters, back, fast_mode=False)
    if mode == "torch fast":
        return torch_check(X, Y, parameters, back, fast_mode=True)
    raise ValueError(mode)


def child(mode: str, size: int, bug: bool) -> None:
    """Import what the mode needs, time one call (two for 'warm'), print JSON."""
    dims, m = NETWORKS[size]
    X, Y = make_data(dims, m)
    parameters = init_parameters(dims)
    back = backward_dW2_doubled if bug else backward
    # Imported before the clock starts, as a test module imports them.
    if mode.startswith(("gcverify", "sample")):
        from gcverify import check_backprop  # noqa: F401
    if mode.startswith("torch"):
        import torch
        import torch.autograd.gradcheck  # noqa: F401
    for _ in range(2 if mode == "gcverify warm" else 1):     # warm: time the second
        faults, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, _cpu_seconds()
        start = time.perf_counter()
        verdict = run_mode(mode, X, Y, parameters, back)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu
    me = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "verdict": verdict,
                      "rss_mb": max(me.ru_maxrss, workers.ru_maxrss) / 1024,
                      "faults": me.ru_minflt - faults + workers.ru_minflt}))


def _cpu_seconds() -> float:
    """CPU time of this process and of the workers it has waited for."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


# --- the parent -----------------------------------------------------------------------------

def measure(mode: str, size: int, bug: bool, repeat: int, env: dict[str, str]) -> dict:
    """The best of ``repeat`` fresh processes (its time, with that run's memory)."""
    best: dict | None = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(size),
                              str(int(bug))], capture_output=True, text=True, env=env,
                             check=False)
        if out.returncode != 0:
            return {"seconds": float("nan"), "cpu": float("nan"), "verdict": "ERROR",
                    "rss_mb": float("nan"), "faults": 0,
                    "error": out.stderr.strip().splitlines()[-1:]}
        run = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or run["seconds"] < best["seconds"]:
            best = run
    assert best is not None
    return best


def show(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per figure")
    parser.add_argument("--sizes", default="47,951,11361,41217",
                        help="parameter counts for every mode")
    parser.add_argument("--large", default="164737,984321",
                        help="parameter counts for the cheap modes only")
    parser.add_argument("--modes", default=",".join(FULL_MODES))
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OPENBLAS/OMP/MKL_NUM_THREADS in every process (default: unset)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), bool(int(args.child[2])))
        return

    env = dict(os.environ)
    if args.blas_threads is not None:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.blas_threads)
    has_torch = importlib.util.find_spec("torch") is not None
    modes = [m for m in args.modes.split(",") if m]
    print(f"cores: {len(os.sched_getaffinity(0))}, BLAS threads: "
          f"{args.blas_threads or 'default'}, torch: {'yes' if has_torch else 'not installed'}"
          f", best of {args.repeat} fresh process(es) per figure")
    sizes = [(int(s), modes) for s in args.sizes.split(",") if s]
    sizes += [(int(s), [m for m in modes if m in LARGE_MODES]) for s in args.large.split(",")
              if s]
    header = (f"{'P':>8}  {'mode':<16} {'correct':>10} {'verdict':<8} {'dW2 x 2':>10} "
              f"{'verdict':<8} {'peak RSS':>9} {'faults':>9} {'CPU':>9} {'vs notebook':>12} "
              f"{'(CPU)':>7}")
    print(header)
    ratios: dict[tuple[int, str], float] = {}
    for size, size_modes in sizes:
        runnable = [m for m in size_modes if has_torch or not m.startswith("torch")]
        for mode in size_modes:
            if mode not in runnable:
                print(f"{size:>8}  {mode:<16} skipped: torch is not installed "
                      "(pip install gcverify[bench])")
        # Repeats go round the modes, so that each sees the machine's load alike.
        best: dict[tuple[str, bool], dict] = {}
        for _ in range(args.repeat):
            for mode in runnable:
                for bug in (False, True):
                    if bug and mode == "torch fast" and size > TORCH_FULL_LIMIT:
                        continue
                    run = measure(mode, size, bug, 1, env)
                    if (mode, bug) not in best or run["seconds"] < best[mode, bug]["seconds"]:
                        best[mode, bug] = run
        skipped = {"seconds": float("nan"), "verdict": "(skip)"}
        notebook = best.get(("notebook", False))
        for mode in runnable:
            correct, buggy = best[mode, False], best.get((mode, True), skipped)
            ratio = cpu_ratio = ""
            if notebook is not None and mode != "notebook":
                ratios[size, mode] = notebook["seconds"] / correct["seconds"]
                ratio = f"{ratios[size, mode]:.2f}x"
                cpu_ratio = f"{notebook['cpu'] / correct['cpu']:.2f}x"
            print(f"{size:>8}  {mode:<16} {show(correct['seconds']):>10} "
                  f"{correct['verdict']:<8} {show(buggy['seconds']):>10} "
                  f"{buggy['verdict']:<8} {correct['rss_mb']:>6.0f} MB "
                  f"{correct['faults']:>9} {show(correct['cpu']):>9} {ratio:>12} "
                  f"{cpu_ratio:>7}", flush=True)
    full = [(s, r) for (s, m), r in ratios.items() if m == "gcverify"]
    one = [(s, r) for (s, m), r in ratios.items() if m == "gcverify jobs=1"]
    if full:
        print("\nfull check, first call, vs the notebook's loop: "
              + ", ".join(f"P={s}: {r:.2f}x" for s, r in full) + " (target 1.5x at 11k, 41k)")
    if one:
        print("the same with jobs=1: " + ", ".join(f"P={s}: {r:.2f}x" for s, r in one)
              + " (target 1x)")


if __name__ == "__main__":
    main()
