"""Driving the app under Streamlit's AppTest: open it, move between pages, train, and read what a page shows.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "workbench" / "streamlit_app.py"
PAGES = {
    "data": "app/pages/data_source.py",
    "features": "app/pages/features.py",
    "pca": "app/pages/pca.py",
    "names": "app/pages/name_components.py",
    "clusters": "app/pages/clusters.py",
    "explore": "app/pages/explore.py",
    "export": "app/pages/export.py",
}
TIMEOUT = 120


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(PAGES[page]).run()


def problems(at: AppTest) -> list[str]:
    """Exceptions (tracebacks) on the page: there must never be any."""
    return [e.value for e in at.exception]


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(markdown: str) -> str:
    """What a reader sees of Markdown the app escaped (workbench.analysis.text): CommonMark's
    backslash escapes and the invisible word joiners removed."""
    return _ESCAPED.sub(r"\1", str(markdown)).replace("\u2060", "")


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def infos(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.info]


def table(at: AppTest, *columns: str):
    """The first read-only table on the page holding all `columns` (st.dataframe has no key in the tree)."""
    for frame in at.dataframe:
        if frame.editing_mode == "read_only":
            value = frame.value
            if set(columns) <= set(value.columns):
                return value
    raise AssertionError(f"No table with columns {columns}; tables: {[list(f.value.columns) for f in at.dataframe]}")


def load_by_path(at: AppTest, path) -> AppTest:
    """Load a table on the Data page by typing its path (inside the allowed folders)."""
    goto(at, "data")
    at.radio(key="source_kind").set_value("path").run()
    at.text_input(key="source_path").input(str(path)).run()
    at.button(key="source_load").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    return at


def train_pca(at: AppTest) -> AppTest:
    goto(at, "pca")
    at.button(key="pca_train").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    return at


def train_kmeans(at: AppTest) -> AppTest:
    goto(at, "clusters")
    at.button(key="kmeans_train").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    return at


def current_names(at: AppTest, kind: str) -> list[str]:
    """The session's names of the current PCA ("component") or K-Means ("cluster") run."""
    run = at.session_state["pca_run" if kind == "component" else "kmeans_run"]
    return list(at.session_state["names"].get(run.job_name, {}).get(kind, []))


def seed_names(at: AppTest, kind: str, names: list[str]) -> AppTest:
    """Names as typed in the editor (AppTest cannot edit data_editor cells): seeded through the
    session's declared names, for the current PCA ("component") or K-Means ("cluster") run."""
    run = at.session_state["pca_run" if kind == "component" else "kmeans_run"]
    every = dict(at.session_state["names"])
    every[run.job_name] = {**every.get(run.job_name, {}), kind: list(names)}
    at.session_state["names"] = every
    return at


def name_component(at: AppTest, index: int, name: str) -> AppTest:
    """What typing a name in the editor does: the editor's edits are seeded through session state."""
    names = current_names(at, "component")
    names += [""] * (index + 1 - len(names))
    names[index] = name
    return seed_names(at, "component", names).run()


def downloads(at: AppTest) -> dict[str, pd.DataFrame]:
    """Each download button's CSV, read back from the page's prepared bytes."""
    return {name: pd.read_csv(io.BytesIO(data)) for name, data in at.session_state["export_files"].items()}


def all_widgets(at: AppTest):
    tree = at._tree
    kinds = ("button", "checkbox", "color_picker", "date_input", "download_button", "file_uploader", "multiselect",
             "number_input", "radio", "selectbox", "select_slider", "slider", "text_area", "text_input",
             "time_input", "toggle")
    for kind in kinds:
        yield from getattr(tree, kind)
