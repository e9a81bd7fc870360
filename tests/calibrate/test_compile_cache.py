"""Compiled models are reused by structure: in the process, across processes through the disk cache, and
never at the cost of a different result.

The fits run in fresh processes (``calibration_helpers.in_fresh_process``) on a small model (an sBG cohort
table and a referral loop: two compilations of about 15 s of CPU each, 40 s the first time PyTensor's
numba cache is empty); the whole module takes about a minute on two cores.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cache_workers import fit_in_new_process, fit_in_one_process, structure_keys
from calibration_helpers import in_fresh_process

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def same_draws(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nutpie")
    return tmp_path_factory.mktemp("compiled_models")


@pytest.fixture(scope="module")
def one_process(cache_dir: Path) -> dict[str, Any]:
    return in_fresh_process(fit_in_one_process, str(cache_dir))


def test_a_second_fit_of_the_same_structure_compiles_nothing(one_process: dict[str, Any]) -> None:
    # history a compiles; history b (other cohorts, periods, months, counts and prior centre) reuses it;
    # b without the cache compiles again
    assert one_process["compilations"] == [1, 1, 2]
    assert one_process["sources"] == ["compiled", "memory", "compiled"]


def test_new_data_on_the_compiled_model_gives_the_posterior_of_a_cold_fit(one_process: dict[str, Any]) -> None:
    # a log density of one part and the expansion's copy: the process compiles them itself, forking nothing
    assert one_process["from_child"] == 0
    assert same_draws(one_process["warm"], one_process["cold"])
    assert one_process["warm"]["sbg_alpha"].shape == (2, 150)


def test_a_new_process_loads_the_compiled_model_from_disk(cache_dir: Path, one_process: dict[str, Any]) -> None:
    result = in_fresh_process(fit_in_new_process, str(cache_dir))
    assert result["source"] == "disk"
    assert result["compilations"] == 0
    assert same_draws(result["draws"], one_process["cold"])


def test_a_damaged_entry_is_compiled_again_with_a_note(tmp_path: Path, cache_dir: Path,
                                                       one_process: dict[str, Any]) -> None:
    import shutil

    copy = tmp_path / "cache"
    shutil.copytree(cache_dir, copy)
    (entry,) = [p for p in (copy / "compiled").iterdir() if not p.name.startswith(".")]
    source = entry / "entry.py"
    source.write_bytes(source.read_bytes()[: 1000])
    result = in_fresh_process(fit_in_new_process, str(copy))
    assert result["source"] == "compiled"
    assert any("could not be used" in note and "compiled again" in note for note in result["notes"])
    assert same_draws(result["draws"], one_process["cold"])
    assert (entry / "meta.json").exists()  # rebuilt in place


def test_two_processes_compiling_the_same_structure_at_once_both_succeed(tmp_path: Path,
                                                                          one_process: dict[str, Any]) -> None:
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = in_fresh_process(fit_in_new_process, str(tmp_path))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert result["source"] in ("compiled", "disk")
        assert same_draws(result["draws"], one_process["cold"])
    entries = [p for p in (tmp_path / "compiled").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1


def test_the_key_changes_with_the_structure_and_not_with_the_data() -> None:
    pytest.importorskip("pymc")
    keys = in_fresh_process(structure_keys)
    assert keys["a"] == keys["b"]  # other data, same structure
    changed = [keys[k] for k in ("b_both", "b_prior", "b_cohorts_only", "segmented")]
    assert len({keys["b"], *changed}) == 5


def test_the_key_covers_the_versions() -> None:
    pytest.importorskip("pymc")
    from revsim.calibrate import model_structure

    found = model_structure.environment()
    assert {"revsim", "pymc", "pytensor", "nutpie", "numba", "python"} <= found.keys()
    assert all(found[name] for name in ("pymc", "pytensor", "nutpie", "numba"))


def test_the_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from revsim.calibrate.compile_cache import CACHE_ENV, cache_directory

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_directory() == tmp_path / "compiled"
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_directory() is None
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and not os.uname().sysname == "Darwin":
        assert cache_directory() == tmp_path / "xdg" / "revsim" / "compiled"


def test_digamma_matches_scipy() -> None:
    numba = pytest.importorskip("numba")
    from scipy.special import psi

    from revsim.calibrate.digamma import digamma

    compiled = numba.njit(digamma)
    x = np.concatenate([np.geomspace(1e-6, 1e6, 2001), np.linspace(0.05, 40.0, 2001),
                        -(np.linspace(0.3, 9.7, 377) + 0.013)])
    ours = np.array([compiled(v) for v in x])
    reference = psi(x)
    assert np.all(np.abs(ours - reference) <= 1e-12 * np.maximum(np.abs(reference), 1.0))
    assert math.isnan(compiled(0.0)) and math.isnan(compiled(-3.0))


def test_a_variable_rebuilt_on_a_data_input_keeps_its_name() -> None:
    """A deterministic whose last operation indexes with an array (an input of the structure, like the
    funnel's channel offsets set at each stage's largest channel) is rebuilt without its name: the structure
    names the model's variables (nutpie refuses a nameless one)."""
    pm = pytest.importorskip("pymc")
    import pytensor.tensor as pt

    from revsim.calibrate.model_structure import model_structure

    with pm.Model(coords={"stage": ["a", "b", "c"], "channel": ["x", "y"]}) as model:
        z = pm.Normal("z", 0.0, 1.0, shape=3)
        offset = pt.zeros((3, 2))
        offset = pt.set_subtensor(offset[np.arange(3), np.array([0, 1, 0])], z)
        pm.Deterministic("offset", offset, dims=("stage", "channel"))
        pm.Deterministic("scaled", 2.0 * z)
    structure = model_structure(model)
    assert sorted(structure.expand_names) == ["offset", "scaled"]
    assert all(isinstance(name, str) for name in structure.value_names + structure.expand_names)


def test_the_entry_points_call_the_graph_with_many_data_arrays(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A model of more than 30 data arrays (the worked example has 46) is compiled by the cache, not by nutpie's
    fallback, and its entry point computes PyMC's log density and gradient.

    The entry points call PyTensor's function of the graph itself (not its compiled-function wrapper), inside
    a ``try`` whose call takes its arguments as one tuple: Python compiles a call of more than 30 arguments
    into bytecode numba cannot analyse there. About 10 s of CPU.
    """
    pm = pytest.importorskip("pymc")
    pytest.importorskip("nutpie")
    import ctypes

    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point
    from revsim.calibrate.link_only import is_link_only

    monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path))
    with pm.Model() as model:
        level = pm.Normal("level", 0.0, 1.0, shape=2)
        for k in range(32):
            pm.Normal(f"y{k}", level[k % 2] * (1.0 + k / 10.0), 1.0, observed=np.linspace(0.0, 1.0, 4) + k / 32)
    clear_memory()
    with strict_floating_point():
        compiled, report = compile_model(model)
    assert report.source == "compiled" and not report.notes, report.notes
    assert len(compiled.shared_data) > 30
    inner = compiled.entry.logp_inner  # PyTensor's function of the graph, not its wrappers
    assert inner.targetoptions.get("no_cpython_wrapper") and "jitable_func" not in inner.py_func.__globals__
    # linked into the entry point, without machine code of its own (revsim.calibrate.link_only)
    (graph,) = inner.overloads.values()
    assert is_link_only(graph.library)

    point = np.array([0.3, -0.7])
    grad, value = np.zeros(2), np.zeros(1)
    address = compiled.user_data.ctypes.data
    double_p = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(2, point.ctypes.data_as(double_p), grad.ctypes.data_as(double_p),
                                                value.ctypes.data_as(double_p), ctypes.c_void_p(address))
    assert status == 0
    expected = model.compile_logp()({"level": point})
    expected_grad = model.compile_dlogp()({"level": point})
    np.testing.assert_allclose(value[0], expected, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)
    clear_memory()


def test_no_llvm_lock_event_is_broadcast_while_entry_points_compile() -> None:
    numba = pytest.importorskip("numba")
    from numba.core import event

    from revsim.calibrate.nutpie_entry import llvm_lock_events_off

    def compile_one(offset: float) -> int:
        seen = []

        class Listener(event.Listener):
            def on_start(self, ev: Any) -> None:
                seen.append(ev)

            def on_end(self, ev: Any) -> None:
                pass

        with event.install_listener("numba:llvm_lock", Listener()):
            function = numba.njit(lambda x: x * 2.0 + offset)  # a new function: compiled here
            assert function(1.0) == 2.0 + offset
        return len(seen)

    assert compile_one(0.5) > 0  # numba announces every call into LLVM
    from llvmlite.binding import ffi

    before = list(ffi.lib._lock._cblist)
    with llvm_lock_events_off():
        assert compile_one(1.5) == 0
    assert ffi.lib._lock._cblist == before  # put back
    assert compile_one(2.5) > 0
