"""revsim's numba versions of PyTensor's ``Alloc``, ``SpecifyShape`` and ``Split`` (``calibrate/shape_ops.py``).

They must compute what PyTensor's own implementations compute (NumPy's broadcasting for ``Alloc``, the input
itself for ``SpecifyShape``, its views for ``Split``), refuse what those refuse (a value that does not fit, a
dimension broadcast at run time, a wrong shape, sizes that do not add up), and be the ones PyTensor's numba
backend compiles once registered.
"""

from __future__ import annotations

import numpy as np
import pytest

pytensor = pytest.importorskip("pytensor")
pt = pytest.importorskip("pytensor.tensor")
numba = pytest.importorskip("numba")

from revsim.calibrate import shape_ops  # noqa: E402


def generated(source: str, name: str) -> object:
    namespace: dict[str, object] = {"np": np}
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102 - the module's own generated source
    return numba.njit(namespace[name])


@pytest.mark.parametrize(("value", "shape", "static"), [
    (np.array(2.5), (3,), ()),
    (np.array(2.5), (2, 3), ()),
    (np.array([1.0, 2.0, 3.0]), (3,), (None,)),
    (np.array([1.0, 2.0, 3.0]), (4, 3), (None,)),
    (np.array([7.0]), (5,), (1,)),
    (np.array([[1.0], [2.0]]), (2, 3), (None, 1)),
    (np.arange(6.0).reshape(1, 2, 3), (4, 2, 3), (1, None, None)),
    (np.array([[[9.0]]]), (2, 1, 3), (1, 1, 1)),
])
def test_alloc_broadcasts_the_value_as_numpy_does(value: np.ndarray, shape: tuple[int, ...],
                                                  static: tuple[int | None, ...]) -> None:
    alloc = generated(shape_ops.alloc_source(value.ndim, len(shape), static, "float64"), "alloc")
    result = alloc(value, *(np.array(n, dtype=np.int64) for n in shape))
    expected = np.broadcast_to(value, shape)
    assert result.shape == expected.shape and result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)
    assert not np.shares_memory(result, value)


@pytest.mark.parametrize(("value", "shape", "static"), [
    (np.array([1.0, 2.0]), (3,), (None,)),  # does not fit
    (np.array([1.0]), (3,), (None,)),  # would be broadcast at run time: PyTensor refuses it too
    (np.ones((2, 3)), (2, 4), (None, None)),
])
def test_alloc_refuses_a_value_that_does_not_fit(value: np.ndarray, shape: tuple[int, ...],
                                                 static: tuple[int | None, ...]) -> None:
    alloc = generated(shape_ops.alloc_source(value.ndim, len(shape), static, "float64"), "alloc")
    with pytest.raises(ValueError, match="does not fit"):
        alloc(value, *(np.array(n, dtype=np.int64) for n in shape))


def test_specify_shape_returns_its_input_and_checks_the_given_dimensions() -> None:
    specify = generated(shape_ops.specify_shape_source([True, False, True]), "specify_shape")
    x = np.zeros((2, 5, 3))
    assert specify(x, np.array(2), np.array(-1), np.array(3)) is x
    with pytest.raises(AssertionError, match="specified shape"):
        specify(x, np.array(2), np.array(-1), np.array(4))


def test_pytensor_compiles_the_registered_versions_and_they_agree_with_its_python_ones() -> None:
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    shape_ops.register()
    shape_ops.register()  # a second registration changes nothing
    value, rows, columns = pt.dvector("value"), pt.lscalar("rows"), pt.lscalar("columns")
    filled = pt.alloc(value, rows, columns)
    specified = pt.specify_shape(pt.dmatrix("matrix"), (None, 3))
    alloc_node, specify_node = filled.owner, specified.owner
    _, alloc_key = numba_funcify_and_cache_key(alloc_node.op, node=alloc_node)
    _, specify_key = numba_funcify_and_cache_key(specify_node.op, node=specify_node)
    static = alloc_node.inputs[0].type.shape
    assert alloc_key == shape_ops._key(shape_ops.alloc_source(1, 2, static, "float64"))
    assert specify_key == shape_ops._key(shape_ops.specify_shape_source([False, True]))

    matrix = specified.owner.inputs[0]
    outputs = [filled * 2.0, specified + 1.0]
    inputs = [value, rows, columns, matrix]
    point = [np.array([1.5, -2.0, 4.0]), 4, 3, np.arange(12.0).reshape(4, 3)]
    numba_function = pytensor.function(inputs, outputs, mode="NUMBA")
    python_results = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(*point)
    for got, expected in zip(numba_function(*point), python_results, strict=True):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="does not fit"):
        numba_function(np.array([1.0, 2.0]), 4, 3, point[3])
    with pytest.raises(AssertionError, match="specified shape"):
        numba_function(point[0], 4, 3, np.zeros((4, 2)))


def test_split_gives_pytensors_views_and_refuses_sizes_that_do_not_add_up() -> None:
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    shape_ops.register()
    x, sizes = pt.dmatrix("x"), pt.lvector("sizes")
    pieces = pt.split(x, sizes, n_splits=3, axis=1)
    _, key = numba_funcify_and_cache_key(pieces[0].owner.op, node=pieces[0].owner)
    assert key == shape_ops._key(shape_ops.SPLIT_SOURCE)

    outputs = [piece * 1.0 for piece in pieces]
    point = [np.arange(14.0).reshape(2, 7), np.array([2, 0, 5])]
    numba_function = pytensor.function([x, sizes], outputs, mode="NUMBA")
    python_results = pytensor.function([x, sizes], outputs, mode="FAST_COMPILE")(*point)
    for got, expected in zip(numba_function(*point), python_results, strict=True):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="do not add up"):
        numba_function(point[0], np.array([2, 1, 5]))
    with pytest.raises(ValueError, match="negative"):
        numba_function(point[0], np.array([8, -1, 0]))
