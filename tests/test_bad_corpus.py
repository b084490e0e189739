"""The corpus of bad inputs (issue 9): one file per rule in tests/data/bad/, each with its exact message.

Each ``NAME.yaml`` starts with ``# rule:`` (what it breaks) and ``# expect: CODE MESSAGE``;
``{here}`` stands for the corpus folder, ``{root}`` for the repository, ``*`` for figures
that depend on the machine. ``echelon run`` must exit with CODE, print exactly MESSAGE as
its one line on stderr, and write nothing.
"""

import re

import pytest

from tests.conftest import ROOT
from tests.hardening import run_cli

CORPUS = ROOT / "tests" / "data" / "bad"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def _expected(path):
    line = path.read_text(encoding="utf-8").splitlines()[1]
    assert line.startswith("# expect: "), f"{path.name}: second line must be '# expect: CODE MESSAGE'"
    code, message = line.removeprefix("# expect: ").split(" ", 1)
    message = message.replace("{here}", str(CORPUS)).replace("{root}", str(ROOT))
    return int(code), re.compile(".*".join(map(re.escape, message.split("*"))))


def test_the_corpus_has_one_file_per_rule():
    rules = [(CORPUS / f"{c}.yaml").read_text(encoding="utf-8").splitlines()[0] for c in CASES]
    assert len(CASES) >= 30 and all(r.startswith("# rule: ") for r in rules)
    assert len(set(rules)) == len(rules)


@pytest.mark.parametrize("case", CASES)
def test_bad_file_gives_its_exact_message(case, tmp_path):
    code, message = _expected(CORPUS / f"{case}.yaml")
    out = tmp_path / "out"
    got, stdout, err = run_cli("run", CORPUS / f"{case}.yaml", "--out", out)
    assert got == code, err
    assert message.fullmatch(err.rstrip("\n")), err
    assert not out.exists() and not list(tmp_path.iterdir())
    assert not (CORPUS / "hacked").exists()
