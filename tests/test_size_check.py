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
