"""The long computations the insight pages start with a button: choosing k, bootstrap stability and
membership confidence. Each runs with a live progress bar and is kept in a process-wide LRU keyed
on its inputs (the data and its scaling, the run's job name and the settings), so a rerun or another session asking for
the same thing gets it at once. (st.cache_data cannot drive a live progress bar created outside
the cached function: Streamlit refuses to replay it.)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from workbench.app import cache
from workbench.app.current import TrainedRun, kept, scores
from workbench.app.data import data_key
from workbench.core import pipeline, settings

# The seed of the Profiles page's stability and membership confidence, which other pages look up.
PROFILES_SEED = 0


def _memo() -> cache.LRU:
    return cache.shared("computations", 32)


def cached(key: tuple) -> Any:
    return _memo().get(key)


def on_demand(where: Any, label: str, button_key: str, key: tuple, compute: Callable[[], Any], failed: str,
              disabled: bool = False, primary: bool = False) -> Any:
    """The result cached under `key`, or computed now when its button is pressed (None until then)."""
    from workbench.app.errors import shows_errors

    found = None if disabled else cached(key)
    if where.button(label, key=button_key, icon=":material/play_arrow:", disabled=disabled,
                    type="primary" if primary else "secondary"):
        with shows_errors(failed, stop=False):
            found = compute()
    return found


def _with_progress(title: str, compute: Callable[[Callable[[float, str], None]], Any]) -> Any:
    """Run compute(progress) inside st.status with a progress bar; progress(fraction, message)."""
    with st.status(f"{title}…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")

        def progress(fraction: float, message: str) -> None:
            bar.progress(float(min(1.0, max(0.0, fraction))), text=message)

        try:
            value = compute(progress)
        except BaseException:
            status.update(label=f"{title}: failed", state="error", expanded=False)
            raise
        bar.progress(1.0, text="done")
        status.update(label=f"{title}: done", state="complete", expanded=False)
    return value


# Every key holds the data's key (fingerprint, features, scaling) beside the job name: one run (an
# imported one has no fingerprint of its own to check) may be shown on two tables, or on one table
# scaled two ways, and each gets its own result.
def k_selection_key(prep: pipeline.PreparedData, pca_run: TrainedRun, k_values: Sequence[int], reps: int,
                    seed: int) -> tuple:
    return ("choose_k", data_key(prep), pca_run.job_name, kept(pca_run), tuple(int(k) for k in k_values), int(reps),
            int(seed))


def evaluate_k(prep: pipeline.PreparedData, pca_run: TrainedRun, k_values: Sequence[int], reps: int,
               seed: int) -> Any:
    """choosing_k.evaluate_k on the kept component scores, with progress; cached on its inputs."""
    from workbench.analysis import choosing_k
    from workbench.charts import insight as insight_charts

    key = k_selection_key(prep, pca_run, k_values, reps, seed)
    found = _memo().get(key)
    if found is not None:
        return found
    X = scores(prep, pca_run)
    ks = [int(k) for k in k_values]
    if not ks or ks[0] < 2 or ks[-1] > len(X) - 1:
        raise ValueError(f"Choose k between 2 and {len(X) - 1}.")
    selection = _with_progress(
        f"Evaluating k = {ks[0]}…{ks[-1]}",
        lambda progress: choosing_k.evaluate_k(X, ks, seed=seed, stability_reps=reps, progress=progress,
                                               cache_dir=settings.workspace_dir() / "cache" / "choose-k"),
    )
    spec = insight_charts.k_selection_chart(selection).to_dict()
    spec.pop("config", None)
    return _memo().put(key, (selection, spec))


def stability_key(prep: pipeline.PreparedData, kmeans_run: TrainedRun, reps: int, seed: int) -> tuple:
    return ("stability", data_key(prep), kmeans_run.job_name, int(reps), int(seed))


def bootstrap_stability(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun, reps: int,
                        seed: int) -> Any:
    from workbench.analysis import stability

    key = stability_key(prep, kmeans_run, reps, seed)
    found = _memo().get(key)
    if found is not None:
        return found
    X = scores(prep, pca_run)
    stage = kmeans_run.stage
    result = _with_progress(
        f"Bootstrapping {reps} resamples",
        lambda progress: stability.bootstrap_stability(X, stage.model.k, labels=stage.labels, reps=reps, seed=seed,
                                                       progress=progress),
    )
    return _memo().put(key, result)


def confidence_key(prep: pipeline.PreparedData, kmeans_run: TrainedRun, draws: int, seed: int) -> tuple:
    return ("confidence", data_key(prep), kmeans_run.job_name, int(draws), int(seed))


def confidence_for(prep: pipeline.PreparedData, kmeans_run: TrainedRun, draws: Any) -> Any:
    """The membership confidence table computed for this very K-Means run on this data (with the
    Profiles page's draws and PROFILES_SEED), or None: another run's or table's never matches its key."""
    if isinstance(draws, bool) or not isinstance(draws, (int, float)) or int(draws) != draws:
        return None
    found = cached(confidence_key(prep, kmeans_run, int(draws), PROFILES_SEED))
    return None if found is None else found.table


def membership_confidence(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun, draws: int,
                          seed: int) -> Any:
    from workbench.analysis import margins

    key = confidence_key(prep, kmeans_run, draws, seed)
    found = _memo().get(key)
    if found is not None:
        return found

    def compute(progress):
        progress(0.1, f"{draws} draws per county from its margins of error")
        return margins.membership_confidence(prep.clean.frame, prep.scaler, pca_run.stage.model,
                                             kmeans_run.stage.model, labels=kmeans_run.stage.labels,
                                             draws=draws, seed=seed)

    return _memo().put(key, _with_progress("Resampling the estimates", compute))
