"""The size check before a run: the whole model's estimate, or the decomposition's (issue 8)."""

import pytest

from optimizer import numerics
from optimizer.errors import ResourceError


def test_a_catalogue_too_large_whole_fits_item_by_item(monkeypatch):
    monkeypatch.setattr(numerics, "_physical_memory", lambda: 24 * 2**30)
    # 1,000 items x 33 stock points x 8 periods x 100 scenarios: 211 GiB whole
    with pytest.raises(ResourceError, match=r"= 26,400,000 cells, about 211 GiB, more than this machine's 24 GiB; "
                                            r"lower scenarios.count or periods, or set solver.decompose: on"):
        numerics.check_size(100, 1000, 33, 8, "config.yaml")
    numerics.check_size(100, 1000, 33, 8, "config.yaml", item_workers=2)  # about 10 GiB item by item
    with pytest.raises(ResourceError, match=r"about 50 GiB, more than this machine's 24 GiB; lower scenarios.count "
                                            r"or periods$"):
        numerics.check_size(100, 5000, 33, 8, "config.yaml", item_workers=2)


def test_auto_that_must_solve_whole_is_refused_before_building_it(write_config, tmp_path, capsys, monkeypatch):
    # Two items sharing a budget: before the forecast, auto is assumed to decompose (about 18 MB
    # here); case packs make it solve whole (about 33 MB), which the solve refuses before building.
    from optimizer.cli import main
    from tests.builders import two_echelon

    monkeypatch.setattr(numerics, "_physical_memory", lambda: 20 * 2**20)
    items = [{"id": name, "unit_cost": 2.0, "holding_cost": 0.1, "shortage_cost": 1.5, "case_pack": 6}
             for name in ("widget", "gadget")]
    config = write_config(two_echelon(items=items, constraints={"capital": {"budget": 400}}))
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5
    assert f"{config}: the model has 60 scenarios x 2 items x 4 stock points x 8 periods = 3,840 cells, about 0 " \
           "GiB, more than this machine's 0 GiB; lower scenarios.count or periods\n" in err  # "on" cannot price packs
    assert not out.exists()
