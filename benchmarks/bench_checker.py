"""Speed of gcverify's checker against the notebook's loop, measured side by side.

Run:  python benchmarks/bench_checker.py [--repeat R]

Two networks:

* the notebook's (4-5-3-1, m = 3, 47 parameters), where Python overhead dominates:
  the notebook's own ``gradient_check_n`` against ``check_gradients`` with the
  reference network's batched cost;
* 100-80-40-1 with m = 32 (11,361 parameters), where arithmetic dominates: the
  notebook's loop (the same code, generalised to any layout) against the same.

For each, the correct and the buggy (dW2 × 2, db1 × 4) backprop are checked by both,
and both verdicts are printed: the speed-up only counts if the verdicts agree. Times
are the best of ``R`` runs (the minimum is the least noisy estimate of the cost).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from gcverify import MLP, check_backprop, check_gradients
from gcverify.models import notebook as nb
from gcverify.params import ParamLayout


def best_time(function: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Seconds per call: the best of ``repeat`` runs of ``number`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def notebook_loop(forward: Callable, layout: ParamLayout, parameters: dict, gradients: dict,
                  X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-7) -> float:
    """``gradient_check_n``'s algorithm, line for line, for any layout."""
    parameters_values = layout.flatten(parameters).reshape(-1, 1)
    grad = layout.flatten_gradients(gradients).reshape(-1, 1)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i][0] += epsilon
        J_plus[i], _ = forward(X, Y, layout.unflatten(theta_plus))
        theta_minus = np.copy(parameters_values)
        theta_minus[i][0] -= epsilon
        J_minus[i], _ = forward(X, Y, layout.unflatten(theta_minus))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return float(numerator / denominator)


def buggy(backward: Callable) -> Callable:
    def backward_with_the_notebooks_bugs(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients["dW2"] = gradients["dW2"] * 2
        gradients["db1"] = gradients["db1"] * 4
        return gradients
    return backward_with_the_notebooks_bugs


def notebook_verdict(difference: float) -> str:
    return "FAIL" if difference > 2e-7 else "PASS"


def compare(title: str, net: MLP, X: np.ndarray, Y: np.ndarray, parameters: dict,
            baseline: Callable[[dict], float], repeat: int, number: int) -> list[float]:
    print(f"\n{title}: {net.layout.size} parameters, m = {X.shape[1]}")
    print(f"  {'backprop':<8} {'notebook loop':>14} {'gcverify':>10} {'ratio':>7}  "
          f"{'verdicts (notebook / gcverify)':<32}")
    cost = net.cost_function(X, Y)
    cache = net.forward(X, Y, parameters)[1]
    ratios = []
    for name, backward in (("correct", net.backward), ("buggy", buggy(net.backward))):
        gradients = backward(X, Y, cache)
        ours = check_gradients(cost, gradients, parameters)
        theirs = notebook_verdict(baseline(gradients))
        t_theirs = best_time(lambda g=gradients: baseline(g), repeat)
        t_ours = best_time(lambda g=gradients: check_gradients(cost, g, parameters), repeat,
                           number)
        ratio = t_theirs / t_ours
        ratios.append(ratio)
        agree = "agree" if theirs == ours.verdict.name else "DIFFER"
        print(f"  {name:<8} {t_theirs * 1e3:>11.2f} ms {t_ours * 1e3:>7.2f} ms {ratio:>6.1f}x  "
              f"{theirs} / {ours.verdict.name} ({agree})")
    # check_backprop adds one forward and one backward call, and watches the structure.
    t_backprop = best_time(lambda: check_backprop(net.forward, net.backward, X, Y, parameters),
                           repeat, number)
    print(f"  check_backprop (batched, forward + backward included): {t_backprop * 1e3:.2f} ms")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best kept)")
    args = parser.parse_args()

    X, Y, parameters = nb.gradient_check_n_test_case()
    small = MLP((4, 5, 3, 1), "relu", "naive")          # the notebook's network and cost
    small_ratios = compare(
        "The notebook's network (its own gradient_check_n)", small, X, Y, parameters,
        lambda g: nb.gradient_check_n(parameters, g, X, Y), args.repeat, number=20)

    big = MLP((100, 80, 40, 1), "relu", "naive")
    X_big, Y_big = big.make_batch(32, seed=0)
    p_big = big.init_parameters(seed=0)
    big_ratios = compare(
        "100-80-40-1 (the notebook's loop, generalised)", big, X_big, Y_big, p_big,
        lambda g: notebook_loop(big.forward, big.layout, p_big, g, X_big, Y_big),
        max(1, args.repeat // 2), number=1)

    print(f"\nspeed-up: notebook network {min(small_ratios):.1f}x (target 30x), "
          f"100-80-40-1 {min(big_ratios):.1f}x (target 5x)")


if __name__ == "__main__":
    main()
