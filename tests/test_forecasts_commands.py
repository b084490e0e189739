"""`echelon forecast` / `echelon explain`: user mistakes are one line and exit code 2."""

from optimizer.cli import main


def test_explain_unknown_item_is_exit_2(capsys):
    code = main(["explain", "configs/m5.yaml", "--item", "NOPE", "--location", "CA_1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no item 'NOPE' in the history" in err and err.count("\n") == 1


def test_backtest_needs_two_origins(capsys, tmp_path):
    code = main(["forecast", "configs/m5.yaml", "--backtest", "--origins", "1", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--origins: needs at least 2 origins" in capsys.readouterr().err
