"""scripts/counts_vs_rates.py: a bad table is refused with the library's message, no traceback."""
from __future__ import annotations

import pytest

from scripts import counts_vs_rates


@pytest.mark.parametrize("content, message", [
    (None, "File not found"),
    ("a,b,c\n1,2,3\n4,5,6\n", "components"),
])
def test_a_table_it_cannot_use_is_refused_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "table.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        counts_vs_rates.main([str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
