"""``k_selection``: the criterion against K when the clusterer chose K itself."""

from __future__ import annotations

from pathlib import Path

from plugins.reports.plotting import new_figure, save
from toolkit import Report, hookimpl
from toolkit.evaluation import Evaluation


class KSelection(Report):
    """The K-selection curve of an 'auto' clusterer, with the chosen K marked."""

    name = "k_selection"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        selection = getattr(ev.clusterer, "selection_", None)
        if not selection:
            return []  # K was given: nothing was selected
        fig = new_figure()
        ax = fig.add_subplot()
        ax.plot(selection["k"], selection["score"], marker="o")
        ax.axvline(
            selection["chosen"], color="C3", ls="--", label=f"chosen K={selection['chosen']}"
        )
        ax.set_xlabel("K")
        ax.set_ylabel(
            selection["criterion"]
            + (" (negated)" if selection["criterion"] == "davies_bouldin" else "")
        )
        ax.set_title("choice of K (label-free)")
        ax.legend()
        return [save(fig, out_dir / "k_selection.png")]


@hookimpl
def register_reports(register):
    register(KSelection)
