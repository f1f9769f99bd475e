"""Directional mode against torch.autograd.gradcheck and the notebook's loop, side by side.

Run:  python benchmarks/bench_directional.py [--repeat R] [--threads N] [--subset S]

A user's own network in the notebook's convention (ReLU hidden layers, sigmoid output,
the naive cross-entropy, ``forward(X, Y, parameters) -> (cost, cache)``,
``backward(X, Y, cache) -> grads``), checked by ``check_backprop(..., mode="directional")``:

* P = 41,217 (256-128-64-1, m = 64): against ``torch.autograd.gradcheck`` with its
  defaults (the hand-written numpy backward wrapped in a ``torch.autograd.Function``,
  float64) and the notebook's loop (``gradient_check_n``: a Python loop over the
  coordinates, two forward calls each), timed on ``--subset`` coordinates and
  extrapolated to all;
* P = 1,002,001 (1000-1000-1, m = 64; W1 is one block of 10⁶ entries): against the
  notebook's loop, extrapolated the same way (the full loop would take hours; so would
  torch's default check).

Each backprop (correct, ``dW2 × 2``, the notebook's ``4./m`` in ``db1``, and one entry of
``dW1`` off by 1e-3 × ‖dW1‖) is checked and its verdict printed beside its time, with the
entry the report names first. Times are the best of ``R`` runs. Memory: the peak that
``tracemalloc`` sees during the check, beyond what existed before it, as a multiple of
the parameters' own size (8 P bytes), measured in separate runs (tracing slows Python),
beside the peak of one call of the user's own forward and backward.
Every tool gets the same number of BLAS threads (``--threads``, default 1: the machine's
cores are shared; set before numpy loads). torch is optional: its columns are skipped
when it is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable


def _threads_from_argv() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = _threads_from_argv()        # before numpy loads

import numpy as np  # noqa: E402
from bench_user_code import (  # noqa: E402  (this folder: run as a script)
    backward,
    forward,
    init_parameters,
    make_data,
    torch_check,
)

from gcverify import check_backprop  # noqa: E402
from gcverify.params import ParamLayout  # noqa: E402

try:
    import torch
except ImportError:                                  # an optional, benchmark-only tool
    torch = None


# --- the user's network: bench_user_code's (the same code a user writes) -----------------

def make_case(layers: tuple[int, ...], m: int):
    X, Y = make_data(layers, m)
    return X, Y, init_parameters(layers)


def backprops(X, Y, parameters) -> dict[str, tuple[Callable, tuple[int, ...] | None]]:
    """Each backprop checked, and the entry a report should name first (or None)."""
    reference = backward(X, Y, forward(X, Y, parameters)[1])
    bump = 1e-3 * float(np.linalg.norm(reference["dW1"]))
    entry = tuple(int(i) for i in np.array(reference["dW1"].shape) * 3 // 5)

    def changed(change):
        def buggy(X, Y, cache):
            gradients = backward(X, Y, cache)
            change(gradients)
            return gradients
        return buggy

    def one_entry(g):
        g["dW1"][entry] += bump

    return {
        "correct": (backward, None),
        "dW2 x 2": (changed(lambda g: g.__setitem__("dW2", g["dW2"] * 2)),
                    tuple(int(i) for i in np.unravel_index(
                        np.argmax(np.abs(reference["dW2"])), reference["dW2"].shape))),
        "db1 4/m": (changed(lambda g: g.__setitem__("db1", g["db1"] * 4)),
                    tuple(int(i) for i in np.unravel_index(
                        np.argmax(np.abs(reference["db1"])), reference["db1"].shape))),
        "dW1 entry": (changed(one_entry), entry),
    }


# --- the tools ------------------------------------------------------------------------

def best_time(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - start)
    return min(times), out


def notebook_loop_seconds(X, Y, parameters, gradients, subset: int,
                          epsilon: float = 1e-7) -> float:
    """``gradient_check_n``'s loop timed on ``subset`` coordinates (spread over every
    block), extrapolated to all of them."""
    layout = ParamLayout.from_parameters(parameters)
    parameters_values = layout.flatten(parameters).reshape(-1, 1)
    grad = layout.flatten_gradients(gradients).reshape(-1, 1)
    chosen = np.linspace(0, layout.size - 1, min(subset, layout.size)).astype(int)
    gradapprox = np.zeros((len(chosen), 1))
    start = time.perf_counter()
    for r, i in enumerate(chosen.tolist()):
        theta_plus = np.copy(parameters_values)
        theta_plus[i][0] += epsilon
        J_plus, _ = forward(X, Y, layout.unflatten(theta_plus))
        theta_minus = np.copy(parameters_values)
        theta_minus[i][0] -= epsilon
        J_minus, _ = forward(X, Y, layout.unflatten(theta_minus))
        gradapprox[r] = (J_plus - J_minus) / (2 * epsilon)
    numerator = np.linalg.norm(grad[chosen] - gradapprox)   # as the loop ends
    del numerator
    return (time.perf_counter() - start) / len(chosen) * layout.size


def memory_multiple(run: Callable[[], object], size: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak / (8 * size)


# --- the comparison -------------------------------------------------------------------

def compare(title: str, layers: tuple[int, ...], m: int, repeat: int, subset: int,
            with_torch: bool, torch_cases: tuple[str, ...] = ()) -> None:
    X, Y, parameters = make_case(layers, m)
    size = sum(a.size for a in parameters.values())
    print(f"\n{title}: {'-'.join(map(str, layers))}, m = {m}, P = {size:,}")
    loop = notebook_loop_seconds(X, Y, parameters, backward(X, Y, forward(X, Y, parameters)[1]),
                                 subset)
    print(f"  notebook loop: {loop:.4g} s for all coordinates (extrapolated from {subset})")
    columns = f"  {'backprop':<10} {'directional':>12} {'verdict':<8} {'named first':<12}"
    if with_torch:
        columns += f" {'torch default':>14} {'verdict':<8} {'torch / dir':>11}"
    print(columns + f" {'loop / dir':>11}")
    for name, (backward_pass, expected) in backprops(X, Y, parameters).items():
        seconds, result = best_time(lambda b=backward_pass: check_backprop(
            forward, b, X, Y, parameters, mode="directional"), repeat)
        failing = [b for b in result.mismatched if b.worst]
        first = failing[0].worst[0].index if failing else None
        mark = "" if expected is None or first == expected else " (!)"
        row = (f"  {name:<10} {seconds:>10.3f} s {result.verdict!s:<8} "
               f"{str(first) + mark if first else '-':<12}")
        if with_torch and name not in torch_cases:
            row += f" {'-':>14} {'':<8} {'':>11}"
        elif with_torch:
            start = time.perf_counter()
            verdict = torch_check(X, Y, parameters, backward_pass, fast_mode=False)
            torch_seconds = time.perf_counter() - start
            row += f" {torch_seconds:>12.3f} s {verdict:<8} {torch_seconds / seconds:>10.0f}×"
        print(row + f" {loop / seconds:>10.0f}×")
    cases = backprops(X, Y, parameters)
    # What the user's code itself needs (its cache and gradients, beside the
    # parameters): no check that calls it can peak lower than this plus its own vectors.
    own = memory_multiple(lambda: backward(X, Y, forward(X, Y, parameters)[1]), size)
    print(f"  memory peak, the user's own forward + backward: {own:.2f} × the parameters' size")
    for name in ("correct", "dW1 entry"):
        backward_pass = cases[name][0]
        multiple = memory_multiple(lambda b=backward_pass: check_backprop(
            forward, b, X, Y, parameters, mode="directional"), size)
        print(f"  memory peak, {name}: {multiple:.2f} × the parameters' size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best of)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads of every tool")
    parser.add_argument("--subset", type=int, default=400,
                        help="coordinates the notebook's loop is timed on")
    parser.add_argument("--no-torch", action="store_true", help="skip torch's columns")
    parser.add_argument("--torch-all", action="store_true",
                        help="run torch on every backprop (by default: correct and dW2 x 2, "
                             "each a full check of every coordinate)")
    args = parser.parse_args()
    with_torch = torch is not None and not args.no_torch
    if torch is None:
        print("torch is not installed: its columns are skipped")
    elif with_torch:
        torch.set_num_threads(args.threads)
        print(f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"numpy {np.__version__}, {args.threads} BLAS thread(s), {os.cpu_count()} cores")
    torch_cases = (("correct", "dW2 x 2", "db1 4/m", "dW1 entry") if args.torch_all
                   else ("correct", "dW2 x 2"))
    compare("User network, P ≈ 41k", (256, 128, 64, 1), 64, args.repeat, args.subset,
            with_torch, torch_cases)
    compare("User network, one block of 10⁶", (1000, 1000, 1), 64, args.repeat,
            args.subset, False)


if __name__ == "__main__":
    main()
