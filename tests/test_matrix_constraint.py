"""The Pyomo model kept as matrix blocks: read back as built, and still an ordinary Pyomo model (issue 8)."""

import sys
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest

from optimizer.lp import LinearProgram
from optimizer.matrix_constraint import MatrixConstraint
from optimizer.model import build_model
from optimizer.solver import _read_matrix_model, _standard_form, compile_pyomo, new_highs, solve_pyomo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from run import synthetic_problem  # noqa: E402

FIELDS = ("c", "col_lb", "col_ub", "row_lb", "row_ub", "offset", "cols", "rows", "integrality")


@pytest.fixture(scope="module")
def built():
    # One item, a DC and two stores, 4 periods, 6 scenarios: budget and fill-rate rows included.
    return build_model(synthetic_problem(1, 1, 2, 4, 6)[0])


def small_mip() -> LinearProgram:
    """Two integer order lines of array bounds, a continuous slack; every sense, a duplicate term."""
    lp = LinearProgram()
    q = lp.add_variables("q", (2,), lb=[0.0, 1.0], ub=[4.0, np.inf], integer=True)
    s = lp.add_variables("s", (2,))
    lp.add_constraints("demand", [(1.0, q), (1.0, s)], ">=", [3.5, 2.0])
    lp.add_constraints("cap", [(2.0, q[0]), (1.0, q[1]), (1.0, q[1])], "<=", 9.0)
    lp.add_constraints("link", [(1.0, s[0]), (-1.0, s[1])], "==", 0.5)
    lp.set_objective([(np.array([3.0, 2.0]), q), (np.array([10.0, 10.0]), s)], constant=1.0)
    return lp


def assert_same_arrays(fast, standard):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(standard, name), err_msg=name)
    assert (fast.a_csc != standard.a_csc).nnz == 0


@pytest.mark.parametrize("make", [lambda b: b.lp, lambda b: small_mip()], ids=["inventory", "mip"])
def test_blocks_read_back_as_pyomos_standard_form_compiles_them(built, make):
    lp = make(built)
    model = lp.to_pyomo()
    fast = _read_matrix_model(model)
    assert fast is not None  # an untouched model is read from its arrays
    assert_same_arrays(fast, _standard_form(model))
    np.testing.assert_array_equal(fast.a_csc.toarray(), lp.matrix().toarray())


def test_rows_are_ordinary_pyomo_constraints():
    model = small_mip().to_pyomo()
    assert model.cap.ctype is pyo.Constraint and isinstance(model.cap, MatrixConstraint)
    lb, body, ub = model.cap[0].to_bounded_expression()
    assert (lb, ub) == (None, 9.0)
    assert str(body) == "2.0*q[0] + 2.0*q[1]"  # the duplicate q[1] terms summed
    assert model.link[0].equality and model.link[0].lb == model.link[0].ub == 0.5
    assert str(model.demand[1].expr) == "2.0  <=  q[1] + s[1]"
    for v, x in zip(model._lp_columns, (1.0, 2.0, 0.5, 0.0)):
        v.set_value(x)
    assert model.demand[0]() == pytest.approx(1.5) and model.cap[0].uslack() == pytest.approx(3.0)
    assert "demand : Size=2" in _printed(model)


def _printed(model) -> str:
    import io

    out = io.StringIO()
    model.pprint(ostream=out)
    return out.getvalue()


@pytest.mark.parametrize("suffix", ["lp", "mps"])
def test_written_model_solves_to_the_same_optimum(built, tmp_path, suffix):
    model = built.lp.to_pyomo()
    path = tmp_path / f"model.{suffix}"
    model.write(str(path), io_options={"symbolic_solver_labels": True})
    h = new_highs(None, threads=1)  # HiGHS's scheduler keeps the first thread count it is given
    h.readModel(str(path))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    ours = solve_pyomo(model, built.lp.n_rows)
    assert h.getInfo().objective_function_value == pytest.approx(ours.objective, rel=1e-9)


def test_a_pyomo_solver_interface_and_a_clone_solve_it(built):
    model = built.lp.to_pyomo()
    ours = solve_pyomo(model, built.lp.n_rows).objective
    copy = model.clone()
    assert solve_pyomo(copy, built.lp.n_rows).objective == pytest.approx(ours, rel=1e-12)
    result = pyo.SolverFactory("appsi_highs").solve(copy)
    assert result.solver.termination_condition == pyo.TerminationCondition.optimal
    assert pyo.value(copy.cost) == pytest.approx(ours, rel=1e-9)


def test_user_changes_are_honoured():
    lp = small_mip()
    base = solve_pyomo(lp.to_pyomo(), lp.n_rows)
    # By enumeration: q = (2, 1), s = (1.5, 1.0); cost 1 + 3*2 + 2*1 + 10*(1.5 + 1.0).
    np.testing.assert_allclose(base.x, [2.0, 1.0, 1.5, 1.0])
    assert base.objective == pytest.approx(34.0)

    fixed = lp.to_pyomo()
    fixed.q[0].fix(3.0)  # still read from the arrays: a fixed column has lb = ub = value
    assert _read_matrix_model(fixed) is not None
    assert solve_pyomo(fixed, lp.n_rows).x[0] == 3.0

    added = lp.to_pyomo()
    added.extra = pyo.Constraint(expr=added.s[1] >= 1.5)  # goes through Pyomo's compiler
    assert _read_matrix_model(added) is None
    k = compile_pyomo(added)
    assert sorted(k.rows) == [-1, 0, 1, 2, 3]  # the added row is no programme row
    sol = solve_pyomo(added, lp.n_rows)
    assert sol.x.tolist() == pytest.approx([2.0, 1.0, 2.0, 1.5]) and sol.objective == pytest.approx(44.0)
    assert len(sol.row_duals) == lp.n_rows
    added.q[1].fix(2.0)  # Pyomo's compiler leaves a fixed column out; its value still comes back
    assert solve_pyomo(added, lp.n_rows).x.tolist() == pytest.approx([2.0, 2.0, 2.0, 1.5])

    changed = lp.to_pyomo()
    changed.cap[0].set_value(2.0 * changed.q[0] + changed.q[1] <= 2.0)  # now an ordinary row
    assert type(changed.cap[0]) is not type(changed.demand[0]) and _read_matrix_model(changed) is None
    assert solve_pyomo(changed, lp.n_rows).x[:2].tolist() == [0.0, 1.0]

    dropped = lp.to_pyomo()
    dropped.link[0].deactivate()
    assert _read_matrix_model(dropped) is None and 3 not in compile_pyomo(dropped).rows


def test_mismatched_arrays_are_refused():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2))
    with pytest.raises(ValueError, match=r"received 3 pointers, 1 lower and 1 upper bounds, 2 indices and 1 values"):
        m.c = MatrixConstraint(np.array([0, 1, 2]), np.array([0, 1]), np.array([1.0]),
                               np.array([0.0]), np.array([1.0]), tuple(m.x.values()))
