"""Fits the erfcx polynomial of io.ringformer.zoo.fused.FastMath (numpy, scipy): python3 fit_erfcx.py

erfcx(z) = exp(z^2) * erfc(z) ~ t * Q(s) for z >= 0, with t = 1 / (1 + P*z) and s = P*z*t = 1 - t, Q of degree 8
with Q(0) = 1: the minimax relative error over z in [0, 10], by linear programming on Chebyshev nodes in s. The
coefficients are rounded to float one at a time, each fit again with those before it fixed at their float values
(rounding them all at once would cost 2.7e-7). Prints Q1..Q8 and the relative error with them.
"""
import numpy as np
from scipy.optimize import linprog
from scipy.special import erfcx

P, DEGREE, Z_MAX, NODES = 0.375, 8, 10.0, 8000


def fit(fixed):
    """The minimax coefficients with the first len(fixed) of them fixed."""
    s_max = P * Z_MAX / (1 + P * Z_MAX)
    k = np.arange(NODES)
    s = np.concatenate([s_max * (0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / NODES)), [0.0, s_max]])
    z = s / (P * (1 - s))
    target = erfcx(z)
    weight = 1e7 / target  # relative error, scaled for the solver's tolerances
    basis = (s[:, None] ** np.arange(DEGREE + 1)[None, :]) * (1 - s)[:, None] * weight[:, None]
    # Variables: the coefficients and the error bound e; minimise e subject to |basis·c − target·weight| ≤ e.
    ones = np.ones((len(s), 1))
    a_ub = np.vstack([np.hstack([basis, -ones]), np.hstack([-basis, -ones])])
    b_ub = np.concatenate([target * weight, -target * weight])
    a_eq = np.eye(len(fixed), DEGREE + 2)
    cost = np.zeros(DEGREE + 2)
    cost[-1] = 1
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=fixed, bounds=[(None, None)] * (DEGREE + 2),
                     method="highs")
    return result.x[:-1]


def relative_error(coefficients):
    z = np.linspace(0, Z_MAX, 200001)
    t = 1 / (1 + P * z)
    approximation = t * np.polynomial.polynomial.polyval(P * z * t, coefficients)
    return np.max(np.abs(approximation / erfcx(z) - 1))


if __name__ == "__main__":
    print(f"relative error of the exact fit {relative_error(fit([1.0])):.3g}")
    coefficients = [1.0]  # Q(0) = 1
    for i in range(1, DEGREE + 1):
        coefficients.append(float(np.float32(fit(coefficients)[i])))
    for i, c in enumerate(coefficients[1:], start=1):
        print(f"static final float ERFCX_Q{i} = {np.format_float_positional(np.float32(c), unique=True)}f;")
    print(f"relative error with these float coefficients {relative_error(np.array(coefficients)):.3g}")
