"""workbench.analysis.county_shares: tracts and block groups to their county's cluster shares.
"""
from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.county_shares import county_shares


def test_tract_shares_per_county():
    ids = ["01001020100", "01001020200", "01001020300", "01001020400", "27053000100", "27053000200", "bad"]
    shares = county_shares(ids, [0, 0, 1, 2, 1, 1, 0], "tract", k=3)
    table = shares.table
    assert list(table.index) == ["01001", "27053"]
    assert table.loc["01001", "units"] == 4 and table.loc["27053", "units"] == 2
    assert table.loc["01001", ["share_0", "share_1", "share_2"]].tolist() == [0.5, 0.25, 0.25]
    assert table.loc["27053", "top_cluster"] == 1 and table.loc["27053", "top_share"] == 1.0
    assert np.allclose(table[["share_0", "share_1", "share_2"]].sum(axis=1), 1.0)
    assert shares.share_of(1).to_dict() == {"01001": 0.25, "27053": 1.0}
    assert shares.unmatched.to_dict("records") == [{"position": 6, "id": "bad"}]
    note = shares.note("Suburban families")
    assert note.startswith("Each county is coloured by the share of its tracts in Suburban families")
    assert "1 tracts without a county code" in note


def test_integer_block_group_ids_keep_their_county():
    # 010010201001 read as an integer lost its leading zero: with the level known it is still Autauga's.
    shares = county_shares([10010201001, 10010201002, 270530001001], [0, 1, 1], "block group")
    assert list(shares.table.index) == ["01001", "27053"] and shares.k == 2
    assert shares.note("cluster 1").startswith("Each county is coloured by the share of its block groups")


@pytest.mark.parametrize("args, message", [
    ((["01001"], [0], "county"), "tracts and block groups"),
    ((["01001020100"], [0, 1], "tract"), "1 ids for 2"),
    ((["01001020100"], [-1], "tract"), "0 or more"),
])
def test_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        county_shares(*args)
    with pytest.raises(ValueError, match="no cluster 5"):
        county_shares(["01001020100"], [0], "tract").share_of(5)
