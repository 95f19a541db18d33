"""`runs ACTION`: the run registry from a shell, one function per action."""
from __future__ import annotations

import json
import sys

from workbench.cli.pipeline_commands import feature_list
from workbench.core.names import terminal_text as shown


def shown_table(frame):
    """A table's text cells, labels and headers as terminal_text: a name or a county typed with an
    escape sequence or a line break cannot recolour the terminal or fake a line."""
    out = frame.copy()
    out.columns = [shown(c) for c in out.columns]
    out.index = [shown(i) if isinstance(i, str) else i for i in out.index]
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if column.dtype == object:
            out.isetitem(position, column.map(lambda v: shown(v) if isinstance(v, str) else v))
    return out


def _store(args):
    from workbench.runs.store import RunStore

    return RunStore(workspace=args.workspace)


def _write(text: str, out) -> None:
    text = text if text.endswith("\n") else text + "\n"
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    else:
        sys.stdout.write(text)


def _reconcile(store) -> None:
    """Settle what a stopped process left behind, and say which run folders could not be registered."""
    for skipped in store.reconcile().get("skipped", []):
        print(f"Not registered: run folder {shown(skipped)}. Restore its files, or move it out of the runs folder.",
              file=sys.stderr)


def list_runs(args) -> int:
    store = _store(args)
    _reconcile(store)  # before listing
    table = store.list_runs(backend=args.backend, status=args.status, kind=args.kind, limit=args.limit)
    if args.json:
        print(table.to_json(orient="records", indent=2))
    elif table.empty and any(v is not None for v in (args.backend, args.status, args.kind)):
        print(f"No runs match in {store.path}.")
    elif table.empty:
        print(f"No runs recorded in {store.path}.")
    else:
        listed = table[["run_id", "name", "kind", "status", "backend", "created_at", "k", "top", "cost_usd"]].copy()
        listed["created_at"] = listed["created_at"].str.slice(0, 19).str.replace("T", " ")
        print(shown_table(listed.astype(object).where(listed.notna(), "")).to_string(index=False))
    return 0


def show(args) -> int:
    run = _store(args).get(args.run)
    print(json.dumps(run.to_dict(), indent=2, default=str) if args.json else run_text(run))
    return 0


def compare(args) -> int:
    from workbench.runs import compare as compare_mod

    store = _store(args)
    result = compare_mod.compare_runs(args.run_a, args.run_b, store=store, top=args.top)
    changes = None if args.changes < 0 else args.changes
    if args.carry_names:
        result.run_b = compare_mod.carry_names(result, store=store, overwrite=args.overwrite_names)
    if args.json:
        print(json.dumps(result.summary(changes=changes), indent=2, default=str))
    else:
        print(comparison_text(result, changes))
    return 0


def export(args) -> int:
    from workbench.runs import manifest

    store = _store(args)
    run = store.get(args.run)
    if args.json:
        record = run.to_dict()
        record["names_history"] = json.loads(store.names_history(run.run_id).to_json(orient="records"))
        present = run.run_dir is not None and (run.run_dir / "manifest.json").is_file()
        record["manifest"] = manifest.read(run.run_dir) if present else None
        if not present:
            print(f"Run {run.run_id} ({run.status}) has no manifest.json in its folder {shown(run.run_dir or '—')}; "
                  "exported without it (\"manifest\": null).", file=sys.stderr)
        text = json.dumps(record, indent=2, default=str)
    else:
        from workbench.core import csv_out

        text = csv_out.csv_text(run.labeled())
    _write(text, args.out)
    if args.out:
        print(f"Run {run.run_id} exported to {args.out}", file=sys.stderr)
    return 0


def import_run(args) -> int:
    from workbench.runs import importer

    run = importer.import_model(args.path, kmeans=args.kmeans, data=args.data, features=feature_list(args.features),
                                scaler=args.scaler, top=args.top, pca_run=args.pca_run, name=args.name or "",
                                job_name=args.job_name, store=_store(args))
    if args.json:
        print(json.dumps(run.to_dict(), indent=2, default=str))
    else:
        labels = f", {run.n_counties:,} counties labeled" if run.has_labels else ""
        print(f"Imported {run.kind} run {run.run_id}{labels}; saved in {run.run_dir}")
    return 0


def rename(args) -> int:
    run = _store(args).rename(args.run, args.name)
    print(f"Run {run.run_id} is now called {shown(run.name)!r}" if run.name else f"Run {run.run_id} has no name")
    return 0


def delete(args) -> int:
    store = _store(args)
    run = store.get(args.run)
    if not args.yes:
        raise ValueError(f"Deleting run {run.run_id} ({shown(run.display_name)}) removes its folder {run.run_dir}; "
                         "add --yes to confirm.")
    store.delete(run.run_id, force=args.force)
    print(f"Deleted run {run.run_id}")
    return 0


def in_flight(args) -> int:
    store = _store(args)
    _reconcile(store)
    table = store.in_flight_jobs()
    if args.json:
        print(table.to_json(orient="records", indent=2))
    elif table.empty:
        print("No cloud jobs in flight.")
    else:
        print(table[["job_id", "run_id", "algorithm", "backend", "job_name", "submitted_at", "orphaned"]]
              .to_string(index=False))
    return 0


def reattach(args) -> int:
    from workbench.runs.reattach import reattach as follow

    run = follow(_store(args), args.job, progress=lambda message: print(message, file=sys.stderr), force=args.force)
    print(f"Run {run.run_id} is {run.status}; saved in {run.run_dir}")
    return 0


ACTIONS = {"list": list_runs, "show": show, "compare": compare, "export": export, "import": import_run,
           "rename": rename, "delete": delete, "in-flight": in_flight, "reattach": reattach}


def run_text(run) -> str:
    lines = [f"{run.run_id}  {shown(run.name) if run.name else '(no name)'}",
             f"  {run.kind} run, {run.status}, backend {run.backend}, origin {run.origin}",
             f"  created {run.created_at}" + (f", finished {run.finished_at}" if run.finished_at else "")]
    if run.error:
        lines.append(f"  error: {shown(run.error)}")
    lines.append(f"  data: {shown(run.source or 'unknown')} (fingerprint {run.data_fingerprint or 'unknown'})")
    if run.features:
        lines.append(f"  features ({len(run.features)}): {shown(', '.join(run.features))}")
    lines.append(f"  scaler {run.scaler_recipe or 'unknown'}; components {run.n_components}, kept {run.kept or '—'}; "
                 f"k {run.k}; seed {run.seed}")
    if run.cost_usd is not None or run.seconds is not None:
        cost = f", estimated cost ${run.cost_usd:.4f}" if run.cost_usd is not None else ""
        lines.append(f"  {run.seconds or 0:.2f} s{cost}")
    for job in run.jobs.values():
        lines.append(f"  {job.algorithm}: {job.status}, job {shown(job.job_name or '—')}"
                     + (f" ({shown(job.job_arn)})" if job.job_arn else "")
                     + f", hyperparameters {json.dumps(job.hyperparameters, sort_keys=True)}")
        if job.artifact_source:
            lines.append(f"    imported from {shown(job.artifact_source)}")
    if any(run.component_names):
        lines.append("  components: " + ", ".join(f"pc{i + 1}={shown(n)}" for i, n in enumerate(run.component_names) if n))
    if any(run.cluster_names):
        lines.append("  clusters: " + ", ".join(f"{i}={shown(n)}" for i, n in enumerate(run.cluster_names) if n))
    lines.append(f"  folder: {run.run_dir or '—'}")
    return "\n".join(lines)


def comparison_text(result, changes: int | None) -> str:
    a, b = result.run_a, result.run_b
    lines = [f"A: {a.run_id} ({shown(a.display_name)}, {a.backend})",
             f"B: {b.run_id} ({shown(b.display_name)}, {b.backend})"]
    lines += [f"note: {shown(note)}" for note in result.notes]
    if result.pca is not None:
        angles = ", ".join(f"{x:.2f}" for x in result.pca.angles_deg)
        lines += ["", f"PCA ({result.pca.n_a} vs {result.pca.n_b} components): principal angles (degrees) {angles}",
                  shown_table(result.pca.matches).to_string(index=False)]
    if result.kmeans is not None:
        km = result.kmeans
        lines += ["", f"K-Means: ARI {km.ari:.4f}, NMI {km.nmi:.4f}; {km.agreement:.1%} of {km.n_counties:,} "
                      "counties stay in the matched cluster", shown_table(km.matches).to_string(index=False), "",
                  shown_table(km.contingency_named()).to_string()]
        listed = km.changes if changes is None else km.changes.head(changes)
        lines += ["", f"{len(km.changes):,} counties change cluster" + (":" if len(listed) else ".")]
        if len(listed):
            lines.append(shown_table(listed).to_string())
    return "\n".join(lines)
