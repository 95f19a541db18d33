"""How far two runs agree: their PCA subspaces and components, and their county clusters.

PCA (the kept components of each run, in the same feature space):
- principal angles between the two kept subspaces (`scipy.linalg.subspace_angles`), smallest
  first, in degrees: 0° everywhere means the runs keep the same subspace;
- a per-component match: Tucker's congruence coefficient between every pair of components,
  then a one-to-one matching that maximises |congruence| (Hungarian, `linear_sum_assignment`),
  so the order and the sign of components do not matter (a flipped component has congruence
  −1 before its sign is aligned). Lorenzo-Seva & ten Berge's reading: ≥ 0.95 equal,
  0.85–0.95 fairly similar, below 0.85 different.

K-Means (the counties both runs labeled, matched on their county key):
- adjusted Rand index and normalised mutual information (scikit-learn) — blind to label numbers;
- a one-to-one matching of clusters that maximises the counties they share (Hungarian on the
  contingency table), with the Jaccard index of each matched pair;
- the contingency table (rows: run A's clusters, columns: run B's);
- the counties that change cluster: those whose run-B cluster is not the match of their run-A one.

`compare_runs(a, b)` returns a `Comparison` whose tables are ready to show;
`carry_names(comparison)` copies run A's component and cluster names onto their matches in run B.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import subspace_angles
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from workbench.runs import apply
from workbench.runs.records import RegistryError, RunRecord
from workbench.runs.store import RunStore

CONGRUENCE_EQUAL = 0.95
CONGRUENCE_SIMILAR = 0.85
NAME_COLUMNS = ("State", "County")


def _name(names: Sequence[str] | None, i: int) -> str:
    if names is None or i is None or not 0 <= i < len(names):
        return ""
    return names[i] or ""


# --------------------------------------------------------------------------- PCA
def tucker_congruence(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Tucker's coefficient for every column pair of A (d, a) and B (d, b): an (a, b) matrix in [-1, 1]."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    norms = np.outer(np.linalg.norm(A, axis=0), np.linalg.norm(B, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (A.T @ B) / norms
    return np.clip(np.nan_to_num(phi), -1.0, 1.0)


def congruence_verdict(value: float) -> str:
    value = abs(value)
    if value >= CONGRUENCE_EQUAL:
        return "equal"
    if value >= CONGRUENCE_SIMILAR:
        return "fairly similar"
    return "different"


@dataclass
class PCAComparison:
    """Run A's kept components against run B's, in the features both use (in run A's order)."""

    features: list[str]
    n_a: int
    n_b: int
    angles: pd.DataFrame  # angle (1…), degrees, cosine; smallest angle first
    matches: pd.DataFrame  # component_a, name_a, component_b, name_b, congruence, sign, verdict
    congruence: pd.DataFrame  # signed Tucker congruence, rows pc1… of A, columns pc1… of B

    @property
    def angles_deg(self) -> np.ndarray:
        return self.angles["degrees"].to_numpy()

    @property
    def max_angle_deg(self) -> float:
        return float(self.angles_deg.max()) if len(self.angles) else float("nan")

    @property
    def mean_congruence(self) -> float:
        return float(self.matches["congruence"].mean()) if len(self.matches) else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features, "components_a": self.n_a, "components_b": self.n_b,
            "principal_angles_deg": [float(a) for a in self.angles_deg],
            "max_angle_deg": self.max_angle_deg, "mean_congruence": self.mean_congruence,
            "matches": _records(self.matches),
        }


def compare_pca(
    v_a: np.ndarray,
    v_b: np.ndarray,
    *,
    features: Sequence[str] | None = None,
    names_a: Sequence[str] | None = None,
    names_b: Sequence[str] | None = None,
) -> PCAComparison:
    """Compare two sets of component directions (d, a) and (d, b) over the same d features (same order)."""
    v_a = np.asarray(v_a, dtype=np.float64)
    v_b = np.asarray(v_b, dtype=np.float64)
    if v_a.ndim != 2 or v_b.ndim != 2 or v_a.shape[0] != v_b.shape[0]:
        raise ValueError(f"Cannot compare components of shapes {v_a.shape} and {v_b.shape}: "
                         "they must span the same features.")
    n_a, n_b = v_a.shape[1], v_b.shape[1]
    angles = np.sort(subspace_angles(v_a, v_b))
    angle_table = pd.DataFrame({
        "angle": np.arange(1, len(angles) + 1),
        "degrees": np.degrees(angles),
        "cosine": np.cos(angles),
    })
    phi = tucker_congruence(v_a, v_b)
    rows, cols = linear_sum_assignment(-np.abs(phi))
    matches = pd.DataFrame({
        "component_a": rows + 1,
        "name_a": [_name(names_a, i) for i in rows],
        "component_b": cols + 1,
        "name_b": [_name(names_b, j) for j in cols],
        "congruence": np.abs(phi[rows, cols]),
        "sign": np.where(phi[rows, cols] < 0, -1, 1),
        "verdict": [congruence_verdict(phi[i, j]) for i, j in zip(rows, cols)],
    })
    congruence = pd.DataFrame(phi, index=[f"pc{i + 1}" for i in range(n_a)],
                              columns=[f"pc{j + 1}" for j in range(n_b)])
    congruence.index.name, congruence.columns.name = "run A", "run B"
    features = list(features) if features is not None else [f"feature {i + 1}" for i in range(v_a.shape[0])]
    return PCAComparison(features, n_a, n_b, angle_table, matches, congruence)


# --------------------------------------------------------------------------- K-Means
@dataclass
class KMeansComparison:
    """Run A's county clusters against run B's, over the counties both labeled."""

    ari: float
    nmi: float
    n_counties: int
    only_in_a: int
    only_in_b: int
    matches: pd.DataFrame  # cluster_a, name_a, cluster_b, name_b, size_a, size_b, shared, jaccard
    contingency: pd.DataFrame  # counts; index cluster_a, columns cluster_b (cluster numbers)
    changes: pd.DataFrame  # counties whose B cluster is not the match of their A cluster
    names_a: list[str] = field(default_factory=list)
    names_b: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        """Share of the common counties whose run-B cluster is the match of their run-A cluster."""
        return 1.0 - len(self.changes) / self.n_counties if self.n_counties else float("nan")

    def contingency_named(self) -> pd.DataFrame:
        """The contingency table with "3 · Rural"-style labels and row/column totals."""
        table = self.contingency.copy()
        table.index = [_label(c, self.names_a) for c in table.index]
        table.columns = [_label(c, self.names_b) for c in table.columns]
        table["total"] = table.sum(axis=1)
        table.loc["total"] = table.sum(axis=0)
        table.index.name, table.columns.name = "run A", "run B"
        return table

    def to_dict(self, *, changes: int | None = None) -> dict[str, Any]:
        return {
            "adjusted_rand_index": self.ari, "normalized_mutual_info": self.nmi, "counties": self.n_counties,
            "only_in_a": self.only_in_a, "only_in_b": self.only_in_b, "agreement": self.agreement,
            "matches": _records(self.matches),
            "contingency": {str(a): {str(b): int(v) for b, v in row.items()}
                            for a, row in self.contingency.iterrows()},
            "counties_changing_cluster": len(self.changes),
            "changes": _records(self.changes.reset_index().head(changes) if changes is not None
                                else self.changes.reset_index()),
        }


def _label(cluster: Any, names: Sequence[str]) -> str:
    name = _name(names, int(cluster))
    return f"{cluster} · {name}" if name else str(cluster)


def compare_labels(
    labels_a: pd.Series,
    labels_b: pd.Series,
    *,
    names_a: Sequence[str] | None = None,
    names_b: Sequence[str] | None = None,
    k_a: int | None = None,
    k_b: int | None = None,
    info: pd.DataFrame | None = None,
) -> KMeansComparison:
    """Compare two labelings of counties (Series indexed by county key, values cluster numbers).

    `info` (indexed by county key) adds its columns (e.g. State, County) to the changes table.
    """
    common = labels_a.index.intersection(labels_b.index, sort=False)
    if len(common) == 0:
        raise ValueError("The two runs labeled no county in common; were they trained on the same data?")
    a = labels_a.loc[common].astype(int).to_numpy()
    b = labels_b.loc[common].astype(int).to_numpy()
    k_a = max(int(k_a or 0), int(a.max()) + 1)
    k_b = max(int(k_b or 0), int(b.max()) + 1)
    counts = np.zeros((k_a, k_b), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    contingency = pd.DataFrame(counts, index=pd.RangeIndex(k_a, name="cluster_a"),
                               columns=pd.RangeIndex(k_b, name="cluster_b"))
    rows, cols = linear_sum_assignment(-counts)
    size_a, size_b = counts.sum(axis=1), counts.sum(axis=0)
    matched = dict(zip(rows.tolist(), cols.tolist()))
    records = []
    for i in range(k_a):
        j = matched.get(i)
        shared = int(counts[i, j]) if j is not None else 0
        union = int(size_a[i] + (size_b[j] if j is not None else 0) - shared)
        records.append({"cluster_a": i, "name_a": _name(names_a, i), "cluster_b": j, "name_b": _name(names_b, j),
                        "size_a": int(size_a[i]), "size_b": int(size_b[j]) if j is not None else 0,
                        "shared": shared, "jaccard": shared / union if union else float("nan")})
    for j in sorted(set(range(k_b)) - set(matched.values())):
        records.append({"cluster_a": None, "name_a": "", "cluster_b": j, "name_b": _name(names_b, j),
                        "size_a": 0, "size_b": int(size_b[j]), "shared": 0, "jaccard": 0.0})
    matches = pd.DataFrame(records)
    for column in ("cluster_a", "cluster_b"):
        matches[column] = matches[column].astype("Int64")

    expected = np.array([matched.get(i, -1) for i in a])
    moved = expected != b
    changes = pd.DataFrame(index=pd.Index(common[moved], name="county"))
    if info is not None:
        for column in info.columns:
            changes[column] = info.reindex(changes.index)[column].to_numpy()
    changes["cluster_a"] = a[moved]
    changes["name_a"] = [_name(names_a, i) for i in a[moved]]
    changes["cluster_b"] = b[moved]
    changes["name_b"] = [_name(names_b, j) for j in b[moved]]
    changes["match_of_a_in_b"] = pd.array([e if e >= 0 else None for e in expected[moved]], dtype="Int64")
    changes = changes.sort_values(["cluster_a", "cluster_b"], kind="stable")
    return KMeansComparison(
        ari=float(adjusted_rand_score(a, b)), nmi=float(normalized_mutual_info_score(a, b)),
        n_counties=len(common), only_in_a=len(labels_a) - len(common), only_in_b=len(labels_b) - len(common),
        matches=matches, contingency=contingency, changes=changes,
        names_a=list(names_a or []), names_b=list(names_b or []),
    )


# --------------------------------------------------------------------------- two runs
@dataclass
class Comparison:
    run_a: RunRecord
    run_b: RunRecord
    pca: PCAComparison | None
    kmeans: KMeansComparison | None
    notes: list[str]
    settings: pd.DataFrame  # one row per setting: A, B, same
    store: RunStore | None = field(default=None, repr=False)

    def carried_names(self, *, components: bool = True, clusters: bool = True,
                      overwrite: bool = False) -> dict[str, list[str]]:
        """Run B's component and cluster names after copying run A's onto their matches.

        Without `overwrite`, only B's unnamed components/clusters take A's names. A component
        name that another of B's components already uses is not copied (names stay unique).
        """
        out: dict[str, list[str]] = {}
        if components and self.pca is not None:
            names = list(self.run_b.component_names) + [""] * max(0, self.pca.n_b - len(self.run_b.component_names))
            for row in self.pca.matches.itertuples():
                carried, j = row.name_a, row.component_b - 1
                if carried and (overwrite or not names[j]) and carried not in names[:j] + names[j + 1:]:
                    names[j] = carried
            out["components"] = names
        if clusters and self.kmeans is not None:
            k_b = len(self.kmeans.contingency.columns)
            names = list(self.run_b.cluster_names) + [""] * max(0, k_b - len(self.run_b.cluster_names))
            for row in self.kmeans.matches.itertuples():
                if pd.isna(row.cluster_a) or pd.isna(row.cluster_b):
                    continue
                if row.name_a and (overwrite or not names[int(row.cluster_b)]):
                    names[int(row.cluster_b)] = row.name_a
            out["clusters"] = names
        return out

    def summary(self, *, changes: int | None = 20) -> dict[str, Any]:
        """Everything as JSON-able data (the CLI's --json); `changes` caps the listed counties."""
        return {
            "run_a": self.run_a.run_id, "run_b": self.run_b.run_id,
            "notes": self.notes,
            "settings": {s: {"a": row["A"], "b": row["B"], "same": bool(row["same"])}
                         for s, row in self.settings.iterrows()},
            "pca": self.pca.to_dict() if self.pca is not None else None,
            "kmeans": self.kmeans.to_dict(changes=changes) if self.kmeans is not None else None,
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                value = None
            elif isinstance(value, np.generic):
                value = value.item()
            clean[str(key)] = value
        out.append(clean)
    return out


def _settings_table(a: RunRecord, b: RunRecord) -> pd.DataFrame:
    def describe(run: RunRecord) -> dict[str, Any]:
        return {
            "name": run.display_name, "kind": run.kind, "status": run.status, "backend": run.backend,
            "created": run.created_at[:19].replace("T", " "),
            "data fingerprint": (run.data_fingerprint or "unknown")[:12],
            "features": len(run.features) if run.features else "unknown",
            "scaler": run.scaler_recipe or "unknown", "components trained": run.n_components,
            "components kept": run.kept, "k": run.k, "seed": run.seed, "counties": run.n_counties,
            "PCA job": run.jobs["pca"].job_name if "pca" in run.jobs else None,
            "K-Means job": run.jobs["kmeans"].job_name if "kmeans" in run.jobs else None,
            "seconds": None if run.seconds is None else round(run.seconds, 2),
            "cost (USD)": run.cost_usd,
        }

    da, db = describe(a), describe(b)
    text = lambda v: "—" if v is None else str(v)  # noqa: E731  (strings only: one Arrow type per column)
    table = pd.DataFrame({"A": [text(da[k]) for k in da], "B": [text(db[k]) for k in da],
                          "same": [da[k] == db[k] for k in da]}, index=pd.Index(list(da), name="setting"))
    return table


def _aligned_components(store: RunStore, a: RunRecord, b: RunRecord, top: int | None, notes: list[str]):
    """Both runs' kept components over the same features, in run A's feature order (or None).
    A run's PCA is read as every page opens it (apply.load_pca): a K-Means run's is its parent's."""
    held = []
    for label, run in (("A", a), ("B", b)):
        if "pca" not in run.jobs and not run.parent_run_id:
            notes.append("PCA not compared: a run has no PCA model.")
            return None
        try:
            held.append(apply.load_pca(store, run))
        except apply.ApplyError as exc:
            notes.append(f"PCA not compared: {label}'s model cannot be read ({exc})")
            return None
    (pa, _, owner_a), (pb, _, owner_b) = held
    # A K-Means run imported without data knows its features through its PCA's run.
    fa, fb = ([*(run.features or owner.features or [])] for run, owner in ((a, owner_a), (b, owner_b)))
    keep_a = min(top or a.top or pa.n_components, pa.n_components)
    keep_b = min(top or b.top or pb.n_components, pb.n_components)
    va, vb = pa.v[:, :keep_a], pb.v[:, :keep_b]
    if fa and fb:
        if set(fa) != set(fb):
            only_a = sorted(set(fa) - set(fb))
            only_b = sorted(set(fb) - set(fa))
            notes.append(f"PCA not compared: the runs use different features (only in A: {only_a or 'none'}; "
                         f"only in B: {only_b or 'none'}).")
            return None
        order = [fb.index(f) for f in fa]
        return fa, va, vb[order, :]
    if pa.feature_dim != pb.feature_dim:
        notes.append(f"PCA not compared: {pa.feature_dim} features in A, {pb.feature_dim} in B.")
        return None
    notes.append("A run's feature names are unknown (imported without data); its features are assumed to be "
                 "in the other run's order.")
    return fa or fb or None, va, vb


def compare_runs(a: str | RunRecord, b: str | RunRecord, *, store: RunStore | None = None,
                 top: int | None = None) -> Comparison:
    """Compare two runs (ids, unique id prefixes, names or RunRecords) of one run store.

    `top` compares that many leading components of each run instead of the components each kept.
    """
    store = store or RunStore()
    run_a = a if isinstance(a, RunRecord) else store.get(a)
    run_b = b if isinstance(b, RunRecord) else store.get(b)
    notes: list[str] = []
    if run_a.run_id == run_b.run_id:
        notes.append("A run compared with itself.")
    if run_a.data_fingerprint and run_b.data_fingerprint and run_a.data_fingerprint != run_b.data_fingerprint:
        notes.append("The runs were trained on different data (their fingerprints differ); counties are matched "
                     "by their key.")
    if run_a.scaler_recipe and run_b.scaler_recipe and run_a.scaler_recipe != run_b.scaler_recipe:
        notes.append(f"The runs scale differently ({run_a.scaler_recipe} vs {run_b.scaler_recipe}).")

    pca = None
    aligned = _aligned_components(store, run_a, run_b, top, notes)
    if aligned is not None:
        features, va, vb = aligned
        pca = compare_pca(va, vb, features=features, names_a=run_a.component_names, names_b=run_b.component_names)

    kmeans = None
    if run_a.has_labels and run_b.has_labels:
        la, lb = run_a.labels(), run_b.labels()
        info_columns = [c for c in la.columns if c in NAME_COLUMNS]
        kmeans = compare_labels(la["cluster"], lb["cluster"], names_a=run_a.cluster_names,
                                names_b=run_b.cluster_names, k_a=run_a.k, k_b=run_b.k,
                                info=la[info_columns] if info_columns else None)
        if kmeans.only_in_a or kmeans.only_in_b:
            notes.append(f"{kmeans.only_in_a} counties are labeled only in A and {kmeans.only_in_b} only in B; "
                         "clusters are compared on the other "
                         f"{kmeans.n_counties}.")
    else:
        missing = [r.run_id for r in (run_a, run_b) if not r.has_labels]
        notes.append(f"Clusters not compared: no county labels in {', '.join(missing)} (no K-Means model, or "
                     "imported without its data).")
    return Comparison(run_a, run_b, pca, kmeans, notes, _settings_table(run_a, run_b), store)


def carry_names(comparison: Comparison, *, store: RunStore | None = None, components: bool = True,
                clusters: bool = True, overwrite: bool = False) -> RunRecord:
    """Write run A's names onto the matched components and clusters of run B (recorded in the
    names history like any edit); returns run B as it is now."""
    store = store or comparison.store or RunStore()
    carried = comparison.carried_names(components=components, clusters=clusters, overwrite=overwrite)
    if not carried:
        raise RegistryError("Nothing to carry over: the runs share neither compared components nor clusters.")
    kept = comparison.run_b.top
    names = carried.get("components")
    if names is not None and kept is not None:
        names = names[:kept]
    return store.set_names(comparison.run_b.run_id, components=names, clusters=carried.get("clusters"))

