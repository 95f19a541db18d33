"""The census through the library, at a given k: every table the chart builders draw.

The walkthrough's recipe, as the app runs it: every feature min-max scaled, PCA with 33
components (backends.algorithms, what the embedded backend runs), the top 5 kept and named
with their suggested names, K-Means (the workbench's own, as the embedded backend) with
seed 0, clusters named with their suggested names from their profiles.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pytest

KEPT = 5
COMPONENTS = 33


@dataclass
class CensusRun:
    prep: object
    pca: object
    k: int
    seed: int = 0
    _cache: dict = field(default_factory=dict)

    @cached_property
    def scores(self) -> np.ndarray:
        return self.pca.top(KEPT).transform(self.prep.X)

    @cached_property
    def kmeans(self):
        from workbench.analysis import stability

        labels, model = stability.fit_labels(self.scores, self.k, self.seed)
        return labels, model

    @property
    def labels(self) -> np.ndarray:
        return self.kmeans[0]

    @cached_property
    def features(self) -> list[str]:
        return list(self.prep.features)

    @cached_property
    def frame(self) -> pd.DataFrame:
        return self.prep.clean.frame

    @cached_property
    def component_names(self) -> list[str]:
        from workbench.analysis import naming

        return naming.suggest_component_names(self.pca.v[:, :KEPT], self.features)

    @cached_property
    def profile(self):
        from workbench.analysis import profiles

        return profiles.build_profile(self.frame, self.labels, features=self.features, k=self.k)

    @cached_property
    def cluster_names(self) -> list[str]:
        from workbench.analysis import naming, summaries

        long = summaries.cluster_profiles(self.frame, self.features, self.labels, [""] * self.k)
        return naming.suggest_cluster_names_from_profiles(long, skip=self.profile.counts)

    @cached_property
    def named_profile(self):
        from workbench.analysis import profiles

        return profiles.build_profile(self.frame, self.labels, features=self.features, k=self.k,
                                      names=self.cluster_names)

    @cached_property
    def profiles_long(self) -> pd.DataFrame:
        from workbench.analysis import summaries

        return summaries.cluster_profiles(self.frame, self.features, self.labels, self.cluster_names)

    @cached_property
    def explained(self) -> np.ndarray:
        from backends.algorithms.pca import total_variance

        return (self.pca.s.astype(np.float64) ** 2) / total_variance(self.prep.X, self.pca.mean)

    @cached_property
    def distances(self) -> np.ndarray:
        return self.kmeans[1].assign(self.scores)[1]

    @cached_property
    def stability(self):
        from workbench.analysis import stability

        return stability.bootstrap_stability(self.scores, self.k, labels=self.labels, reps=2, seed=0)

    @cached_property
    def confidence(self):
        from workbench.analysis import margins

        return margins.membership_confidence(self.frame, self.prep.scaler, self.pca, self.kmeans[1],
                                             labels=self.labels, draws=20, seed=0)

    @cached_property
    def selection(self):
        from workbench.analysis import choosing_k

        return choosing_k.evaluate_k(self.scores, range(2, self.k + 1), stability_reps=1, seed=0)


@pytest.fixture(scope="session")
def census_pca(census_csv):
    from backends.algorithms import pca
    from workbench.core import pipeline, sources

    prep = pipeline.prepare_table(sources.read_csv_path(census_csv))
    hp = {"feature_dim": prep.X.shape[1], "num_components": COMPONENTS, "mini_batch_size": 500}
    return prep, pca.fit_pca(prep.X, hp)


@pytest.fixture(scope="session")
def census_run(census_pca):
    """census_run(k): the census clustered into k, its tables computed once per session."""
    prep, model = census_pca
    runs: dict[int, CensusRun] = {}

    def run(k: int) -> CensusRun:
        if k not in runs:
            runs[k] = CensusRun(prep, model, k)
        return runs[k]

    return run
