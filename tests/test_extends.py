"""What-if files: `extends:` with a deep merge, paths relative to the file that sets them."""

import pytest

from optimizer.cli import main
from optimizer.config import load_config
from tests.builders import two_echelon
from tests.conftest import ROOT


def test_whatif_overrides_merge_by_id_and_by_lane(write_config, tmp_path):
    write_config(two_echelon(), "base.yaml")
    child = write_config(
        "extends: base.yaml\n"
        "network:\n"
        "  nodes: [{id: dc, holding_cost: 0.09}, {id: s4, kind: store}]\n"
        "  lanes: [{source: vendor, destination: dc, lead_time: 5}, {source: dc, destination: s4, lead_time: 1}]\n"
        "items: [{id: widget, shortage_cost: 3.0}]\n",
        "child.yaml",
    )
    config = load_config(child)
    nodes = {n.id: n for n in config.network.nodes}
    assert nodes["dc"].holding_cost == 0.09 and nodes["dc"].kind == "dc"  # merged, not replaced
    assert list(nodes) == ["vendor", "dc", "s1", "s2", "s3", "s4"]
    lanes = {(l.source, l.destination): l for l in config.network.lanes}
    assert lanes[("vendor", "dc")].lead_time == 5 and lanes[("vendor", "dc")].cost == 0.1
    assert len(lanes) == 5
    item = config.items[0]
    assert (item.unit_cost, item.holding_cost, item.shortage_cost) == (2.0, 0.1, 3.0)
    assert config.periods == 8  # inherited


def test_bundled_whatifs_resolve_against_the_base_data(capsys):
    for name in ("budget_cut", "supplier_delay", "promotion"):
        assert main(["validate", str(ROOT / "configs" / "whatif" / f"{name}.yaml"), "--resolved"]) == 0
    out = capsys.readouterr().out
    assert "budget: 14000" in out and "lead_time_add: 2" in out and "factor: 1.3" in out
    assert str(ROOT / "configs" / "data" / "m5" / "history.csv.gz") in out
    # The promotion's rule selects the 12 FOODS items (the history's category) in 4 stores for 7 days.
    assert "what-if: demand_multiplier[0]: demand x1.3 on 12 items x 4 stores x 7 periods" in out
    assert "what-if: lane VENDOR -> DC_CA: lead time 3 +2 = 5 periods" in out


@pytest.mark.parametrize(
    "text, expected",
    [
        ("extends: missing.yaml\n", "config.yaml: extends: file not found:"),
        ("extends: config.yaml\nperiods: 2\n", "config.yaml: extends: the files extend each other in a cycle"),
        ("extends: [a, b]\n", "config.yaml: extends: expected a file name"),
    ],
)
def test_bad_extends_is_a_one_line_error(text, expected, write_config, capsys):
    path = write_config(text)
    assert main(["validate", str(path)]) == 2
    assert expected in capsys.readouterr().err
