"""The README's Python example runs as written and prints what it says (issue 5)."""

import doctest

from tests.conftest import ROOT


def test_readme_python_example(monkeypatch):
    monkeypatch.chdir(ROOT)  # the example names configs/ relative to the repository
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8, "the README lost its Python example"
    assert result.failed == 0, "the README's Python example no longer prints what it says (see above)"
