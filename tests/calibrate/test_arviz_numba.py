"""ArviZ used without its numba compilations: the same diagnostics, the ECDF ufunc still usable."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("arviz")


def test_numpy_statistics_give_numbas_diagnostics_and_restore_the_setting() -> None:
    import arviz as az
    from arviz.utils import Numba

    from revsim.calibrate.arviz_numba import numpy_statistics

    if not Numba.numba_flag:  # pragma: no cover - numba is a dependency
        pytest.skip("ArviZ does not see numba")
    rng = np.random.default_rng(3)
    # four autocorrelated chains around a large mean (the one-pass variance loses most digits there)
    chains = 1e3 + np.cumsum(rng.normal(size=(4, 1000)), axis=1) * 0.05 + rng.normal(size=(4, 1000))
    with_numba = [float(az.rhat(chains)), float(az.ess(chains, method="bulk")), float(az.ess(chains, method="tail"))]
    with numpy_statistics():
        assert not Numba.numba_flag
        with_numpy = [float(az.rhat(chains)), float(az.ess(chains, method="bulk")),
                      float(az.ess(chains, method="tail"))]
    assert Numba.numba_flag
    np.testing.assert_allclose(with_numpy, with_numba, rtol=1e-9)


def test_import_pymc_compiles_no_ecdf_ufunc_and_the_ufunc_still_works() -> None:
    code = (
        "from revsim.calibrate.arviz_numba import import_pymc\n"
        "import numba\n"
        "eager = numba.vectorize\n"
        "pm = import_pymc()\n"
        "assert numba.vectorize is eager\n"
        "from arviz.stats.ecdf_utils import _binom_pmf\n"
        "assert len(_binom_pmf.types) == 0, _binom_pmf.types\n"
        "from scipy.stats import binom\n"
        "import numpy as np\n"
        "k = np.arange(6)\n"
        "np.testing.assert_allclose(_binom_pmf(k, 5, 0.3, 0), binom.pmf(k, 5, 0.3), rtol=1e-12)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
