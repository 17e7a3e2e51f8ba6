"""``k_selection``: the selection curve of a clusterer that chose its own K (or eps)."""

from __future__ import annotations

from pathlib import Path

from musiclust import Evaluation, NotComputed, Report, hookimpl
from musiclust.plugins.reports.plotting import new_figure, save

NEGATED = {"davies_bouldin", "bic", "aic"}


class KSelection(Report):
    """The curve a clusterer chose K (or DBSCAN's eps) from, with the choice marked."""

    name = "k_selection"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        selection = None if ev.clusterer is None else ev.clusterer.selection_
        if not selection:
            raise NotComputed("the clusterer did not choose its own K")
        criterion = selection["criterion"]
        fig = new_figure()
        ax = fig.add_subplot()
        ax.plot(selection["x"], selection["y"], marker="o" if len(selection["x"]) < 60 else None)
        chosen = selection["chosen"]
        if selection.get("chosen_axis") == "y":
            ax.axhline(chosen, color="C3", ls="--", label=f"chosen {chosen:.4g}")
        else:
            ax.axvline(chosen, color="C3", ls="--", label=f"chosen {chosen}")
        ax.set_xlabel(selection.get("xlabel", "K"))
        ax.set_ylabel(
            selection.get("ylabel", criterion + (" (negated)" if criterion in NEGATED else ""))
        )
        ax.set_title(f"{ev.clusterer.name}: {criterion} (label-free)")
        ax.legend()
        return [save(fig, out_dir / "k_selection.png")]


@hookimpl
def register_reports(register):
    register(KSelection)
