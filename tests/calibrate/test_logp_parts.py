"""The log density split into parts compiled apart: the split, and the sum nutpie calls against PyMC's own."""

from __future__ import annotations

import ctypes
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

from revsim.calibrate import logp_parts  # noqa: E402
from revsim.calibrate.logp_parts import split_terms  # noqa: E402


def terms_of(model: Any) -> tuple[list[Any], list[Any]]:
    return model.logp(sum=False), [model.rvs_to_values[rv] for rv in model.free_RVs]


def two_groups(observed: int = 6, shift: float = 0.0) -> Any:
    """Two sub-models sharing nothing (terms 0, 2..: level a; 1, 2+observed..: level b) and a bad region.

    The potentials ``bad_a`` and ``bad_b`` are minus infinity when a > 5 or b > 5: the log density is not
    finite there.
    ``shift`` moves the data of yb4.
    """
    import pytensor.tensor as pt

    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0)
        b = pm.Normal("b", 0.0, 2.0)
        for k in range(observed):
            pm.Normal(f"ya{k}", a * (1.0 + k / 10.0), 1.0, observed=np.linspace(0.0, 1.0, 4) + k)
        for k in range(observed):
            pm.StudentT(f"yb{k}", nu=4.0, mu=pm.math.exp(b / 3.0) * (k + 1), sigma=2.0,
                        observed=np.linspace(-1.0, 2.0, 3) * k + shift * (k == 4))
        pm.Potential("bad_a", pt.switch(pt.gt(a, 5.0), -np.inf, 0.0))
        pm.Potential("bad_b", pt.switch(pt.gt(b, 5.0), -np.inf, 0.0))
    return model


def test_terms_sharing_a_parameter_stay_in_one_part() -> None:
    model = two_groups()
    terms, parameters = terms_of(model)
    parts = split_terms(terms, parameters, min_part_nodes=1)
    # free variables first (a, b), then the observed (ya0.., yb0..), then the potential
    names = [v.name for v in model.free_RVs + model.observed_RVs] + ["bad_a", "bad_b"]
    assert len(parts) == 2
    assert [names[i] for i in parts[0]] == ["a"] + [f"ya{k}" for k in range(6)] + ["bad_a"]
    assert [names[i] for i in parts[1]] == ["b"] + [f"yb{k}" for k in range(6)] + ["bad_b"]


def test_a_small_model_or_one_whose_terms_share_a_parameter_stays_whole() -> None:
    terms, parameters = terms_of(two_groups(observed=1))
    assert split_terms(terms, parameters) == [list(range(len(terms)))]  # too small for two processes
    terms, parameters = terms_of(two_groups())
    assert split_terms(terms, parameters, min_part_nodes=10_000) == [list(range(len(terms)))]
    with pm.Model() as shared:
        level = pm.Normal("level", 0.0, 1.0)
        for k in range(40):
            pm.Normal(f"y{k}", level + k, 1.0, observed=[0.5, 1.5])
    terms, parameters = terms_of(shared)
    assert split_terms(terms, parameters, min_part_nodes=1) == [list(range(len(terms)))]


def test_the_largest_groups_are_placed_first_each_in_the_lightest_part() -> None:
    with pm.Model() as model:
        sizes = [1, 5, 3, 4]
        for g, size in enumerate(sizes):
            level = pm.Normal(f"level{g}", 0.0, 1.0)
            for k in range(size):
                pm.Normal(f"y{g}_{k}", level * (k + 1), 1.0, observed=[0.1, 0.2])
    terms, parameters = terms_of(model)
    parts = split_terms(terms, parameters, min_part_nodes=1)
    names = [v.name for v in model.free_RVs + model.observed_RVs]
    groups = [sorted({names[i].split("_")[0].removeprefix("level").removeprefix("y") for i in p}) for p in parts]
    # 5 -> part A; 4 -> part B; 3 -> B (4 < 5)? no: B holds 4, A holds 5: 3 goes to B; then 1 goes to A
    assert groups == [["0", "1"], ["2", "3"]]
    assert split_terms(terms, parameters, min_part_nodes=1) == parts  # the same split every time


@pytest.fixture()
def split_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    pytest.importorskip("nutpie")
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point

    monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(logp_parts, "MIN_PART_NODES", 1)
    model = two_groups()
    clear_memory()
    with strict_floating_point():
        compiled, report = compile_model(model)
    yield model, compiled, report
    clear_memory()


def call(compiled: Any, point: np.ndarray) -> tuple[int, float, np.ndarray]:
    grad, value = np.zeros(point.size), np.zeros(1)
    double_p = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(point.size, point.ctypes.data_as(double_p),
                                                grad.ctypes.data_as(double_p), value.ctypes.data_as(double_p),
                                                ctypes.c_void_p(compiled.user_data.ctypes.data))
    return status, float(value[0]), grad


def as_point(compiled: Any, x: np.ndarray) -> dict[str, float]:
    """``x`` (nutpie's order of the parameters, which is the frozen model's) by parameter name."""
    names = compiled.shape_info[0][:x.size]
    return dict(zip(names, x, strict=True))


def test_the_entry_point_adds_the_parts_as_pymc_adds_the_terms(split_model: Any) -> None:
    from revsim.calibrate.nutpie_entry import compiled_by_a_child

    model, compiled, report = split_model
    assert report.source == "compiled" and not report.notes, report.notes
    assert len(compiled.entry.parts) == 2
    if sys.platform.startswith("linux"):
        assert compiled_by_a_child() >= 1  # the second part, compiled by a child
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    for x in ([0.3, -0.7], [-1.2, 2.5], [0.0, 0.0]):
        status, value, grad = call(compiled, np.array(x))
        point = as_point(compiled, np.array(x))
        assert status == 0
        np.testing.assert_allclose(value, logp(point), rtol=1e-12)
        # PyMC's gradient is in the model's order of the parameters
        expected = dict(zip([v.name for v in model.value_vars], dlogp(point), strict=True))
        np.testing.assert_allclose(grad, [expected[name] for name in point], rtol=1e-12, atol=1e-12)


def test_a_part_that_is_not_finite_makes_the_sum_fail(split_model: Any) -> None:
    _, compiled, _ = split_model
    for bad in ("a", "b"):  # each part in turn: the first writes into nutpie's arrays, the others do not
        x = np.array([6.0 if name == bad else 0.3 for name in compiled.shape_info[0][:2]])
        assert call(compiled, x)[0] == 4  # its part's log density is -inf
    assert call(compiled, np.array([0.3, 0.3]))[0] == 0


def test_new_data_and_a_model_loaded_from_disk_keep_the_parts(split_model: Any) -> None:
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point

    model, compiled, _ = split_model
    name = next(n for n in compiled.shared_data if compiled.shared_data[n].shape == (3,)
                and np.array_equal(compiled.shared_data[n], np.linspace(-1.0, 2.0, 3) * 4))
    point = np.array([0.3, -0.7])
    moved = compiled.with_data(**{name: np.linspace(-1.0, 2.0, 3) * 4 + 1.0})
    status, value, grad = call(moved, point)
    expected = two_groups(shift=1.0)  # the same structure, yb4's data moved by one
    named = as_point(compiled, point)
    assert status == 0 and value != call(compiled, point)[1]
    np.testing.assert_allclose(value, expected.compile_logp()(named), rtol=1e-12)
    gradient = dict(zip([v.name for v in expected.value_vars], expected.compile_dlogp()(named), strict=True))
    np.testing.assert_allclose(grad, [gradient[name] for name in named], rtol=1e-12)
    clear_memory()
    with strict_floating_point():
        again, report = compile_model(model)
    assert report.source == "disk" and len(again.entry.parts) == 2
    assert call(again, point)[:2] == call(compiled, point)[:2]
    np.testing.assert_array_equal(call(again, point)[2], call(compiled, point)[2])


def test_an_entry_whose_compiled_code_was_lost_rebuilds_the_same_code(split_model: Any, tmp_path: Path) -> None:
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point

    model, compiled, _ = split_model
    (folder,) = [p for p in (tmp_path / "compiled").iterdir() if not p.name.startswith(".")]
    lost = [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert len(lost) >= 8  # an index and a file of code for each part, the expansion and the sum
    for path in lost:
        path.unlink()
    clear_memory()
    with strict_floating_point():
        again, report = compile_model(model)
    assert report.source == "disk" and report.seconds["load"] > 0
    assert again.entry.logp_inner is not None  # the graphs were rewritten and compiled again
    for x in ([0.3, -0.7], [1.1, 0.2]):
        first, second = call(compiled, np.array(x)), call(again, np.array(x))
        assert first[:2] == second[:2]
        np.testing.assert_array_equal(first[2], second[2])


def test_without_fork_this_process_compiles_every_part(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("nutpie")
    from revsim.calibrate import forked_child
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point
    from revsim.calibrate.nutpie_entry import compiled_by_a_child

    monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(logp_parts, "MIN_PART_NODES", 1)
    monkeypatch.setattr(forked_child, "can_fork", lambda: False)  # macOS, Windows
    model = two_groups(observed=5)  # another structure than the other tests': nothing cached
    clear_memory()
    before = compiled_by_a_child()
    with strict_floating_point():
        compiled, report = compile_model(model)
    clear_memory()
    assert report.source == "compiled" and not report.notes, report.notes
    assert len(compiled.entry.parts) == 2 and compiled_by_a_child() == before
    x = np.array([0.3, -0.7])
    status, value, _ = call(compiled, x)
    assert status == 0
    np.testing.assert_allclose(value, model.compile_logp()(as_point(compiled, x)), rtol=1e-12)


def test_each_part_reads_only_the_data_of_its_graph(split_model: Any, tmp_path: Path) -> None:
    from revsim.calibrate.model_structure import model_structure

    model, compiled, _ = split_model
    structure = model_structure(model)
    first, second = structure.part_data
    assert first and second and not set(first) & set(second)  # the two groups share no data
    assert sorted(first + second) == list(range(len(structure.data_inputs)))
    (folder,) = [p for p in (tmp_path / "compiled").iterdir() if not p.name.startswith(".")]
    source = (folder / "entry.py").read_text()
    for k, used in enumerate(structure.part_data):
        body = source.split(f"def logp_part_{k}(")[1].split("\ndef ")[0]
        read = sorted(int(n) for n in re.findall(r"\bdata_(\d+) = ", body))
        assert read == used
    # the first part's graph, compiled here: once, for the arguments its entry point passes
    assert len(compiled.entry.logp_inner.overloads) == 1


def shaped_groups() -> Any:
    """Two groups with parameters of every rank: a scalar and a 2 x 3 matrix, and a scalar and a positive 3-vector
    (a log transform)."""
    with pm.Model(coords={"row": range(2), "col": range(3)}) as model:
        a = pm.Normal("a", 0.0, 1.0)
        m = pm.Normal("m", 0.0, 1.0, dims=("row", "col"))
        v = pm.HalfNormal("v", 1.0, shape=3)
        b = pm.Normal("b", 0.0, 1.0)
        pm.Normal("ya", a + m * np.arange(1.0, 7.0).reshape(2, 3), 1.0, observed=np.arange(6.0).reshape(2, 3))
        pm.Normal("yb", b * v, v, observed=[0.5, 1.5, 2.5])
    return model


def test_each_part_takes_its_own_parameters_and_gives_their_gradient_in_place(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    pytest.importorskip("nutpie")
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point
    from revsim.calibrate.model_structure import model_structure

    monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(logp_parts, "MIN_PART_NODES", 1)
    model = shaped_groups()
    structure = model_structure(model)
    groups = [{structure.value_names[i] for i in taken} for taken in structure.part_parameters]
    assert sorted(groups, key=sorted) == [{"a", "m"}, {"b", "v_log__"}]
    clear_memory()
    with strict_floating_point():
        compiled, report = compile_model(model)
    clear_memory()
    assert report.source == "compiled" and len(compiled.entry.parts) == 2
    source = next(p for p in (tmp_path / "compiled").iterdir() if not p.name.startswith(".")) / "entry.py"
    for k, taken in enumerate(structure.part_parameters):
        body = source.read_text().split(f"def logp_part_{k}(")[1].split("\ndef ")[0]
        assert len(re.findall(r"\bparameter_\d+ = ", body)) == len(taken)
    names, slices, _ = compiled.shape_info
    variables = {model.rvs_to_values[rv].name: rv for rv in model.free_RVs}
    logp, dlogp = model.compile_logp(), model.compile_dlogp(vars=[variables[name] for name in names])
    rng = np.random.default_rng(3)
    double_p = ctypes.POINTER(ctypes.c_double)
    for _ in range(3):
        x = rng.normal(size=compiled.n_dim)
        point = {name: x[part].reshape(structure.value_shapes[i]) for i, (name, part) in enumerate(zip(names, slices))}
        expected = dlogp(point)  # PyMC's gradient, flattened in nutpie's order
        total = np.zeros(compiled.n_dim)
        for k, entry in enumerate(compiled.entry.parts):
            grad, value = np.full(compiled.n_dim, np.nan), np.zeros(1)
            status = entry.ctypes(x.size, x.ctypes.data_as(double_p), grad.ctypes.data_as(double_p),
                                  value.ctypes.data_as(double_p), ctypes.c_void_p(compiled.user_data.ctypes.data))
            assert status == 0
            own = np.zeros(compiled.n_dim, dtype=bool)
            for i in structure.part_parameters[k]:
                own[slices[i]] = True
            np.testing.assert_allclose(grad[own], expected[own], rtol=1e-12, atol=1e-12)
            assert np.all(grad[~own] == 0.0)  # the other part's parameters: 0, written, not left as they were
            total += grad
        status, value, grad = call(compiled, x)
        assert status == 0
        np.testing.assert_allclose(value, logp(point), rtol=1e-12)
        np.testing.assert_array_equal(grad, total)


def test_graphs_optimised_at_a_lower_level_give_the_same_bits(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    pytest.importorskip("nutpie")
    from revsim.calibrate import nutpie_entry
    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point

    monkeypatch.setattr(logp_parts, "MIN_PART_NODES", 1)
    results = {}
    for level in (3, nutpie_entry.GRAPH_OPTIMISATION):
        monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path / str(level)))
        monkeypatch.setattr(nutpie_entry, "GRAPH_OPTIMISATION", level)
        clear_memory()
        with strict_floating_point():
            compiled, report = compile_model(two_groups(observed=7))
        assert report.source == "compiled"
        results[level] = [call(compiled, np.array(x)) for x in ([0.3, -0.7], [-1.2, 2.5], [4.9, -3.3])]
    clear_memory()
    assert nutpie_entry.GRAPH_OPTIMISATION < 3
    for at_3, lower in zip(*results.values(), strict=True):
        assert at_3[:2] == lower[:2]
        np.testing.assert_array_equal(at_3[2], lower[2])


def test_a_graph_is_optimised_at_its_level_and_a_revsim_kernel_at_numbas(monkeypatch: pytest.MonkeyPatch) -> None:
    numba = pytest.importorskip("numba")
    from numba.core import codegen, config

    from revsim.calibrate.nutpie_entry import GRAPH_OPTIMISATION, compile_graph, numba_optimisation

    levels: list[int] = []
    builder = codegen.JITCPUCodegen._pass_builder

    def recording(self: Any, **kwargs: Any) -> Any:
        if "opt" not in kwargs:  # the full pipelines (the cheap one names its level, -O0)
            levels.append(int(config.OPT))
        return builder(self, **kwargs)

    monkeypatch.setattr(codegen.JITCPUCodegen, "_pass_builder", recording)
    before = config.OPT

    @numba.njit(cache=False)
    def graph(x: Any, y: Any) -> Any:
        return (x * y).sum()

    compile_graph(graph, [("float64", 1), ("int64", 1)])
    assert levels and set(levels) == {GRAPH_OPTIMISATION}
    assert len(graph.overloads) == 1
    levels.clear()
    assert graph(np.ones(3), np.arange(3)) == 3.0  # no other overload needed: compiled for these types
    assert len(graph.overloads) == 1 and not levels
    assert config.OPT == before

    def kernel(x: Any) -> Any:  # as if revsim's own: compiled at numba's level, even inside a graph
        return x * 2.0

    kernel.__module__ = "revsim.calibrate.a_kernel"
    kernel = numba.njit(cache=False)(kernel)

    @numba.njit(cache=False)
    def graph_with_kernel(x: Any) -> Any:
        return kernel(x).sum()

    compile_graph(graph_with_kernel, [("float64", 1)])
    numbas = int(before)  # 3 unless NUMBA_OPT says otherwise
    assert levels.count(numbas) >= 2 and set(levels) == {GRAPH_OPTIMISATION, numbas}  # the kernel's, the graph's
    assert config.OPT == before
    with pytest.raises(RuntimeError), numba_optimisation(0):
        assert int(config.OPT) == 0
        raise RuntimeError
    assert config.OPT == before and type(config.OPT) is type(before)
