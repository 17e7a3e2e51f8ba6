"""Faults, injected for real, as a table: case / expected / observed.

    python benchmarks/faults.py

Runs ``tests/test_faults.py`` (real processes, signals, sqlite stores, read-only mounts,
corrupted cache entries; each test reproduces its fault first) and writes what each case
expects and what happened to benchmarks/results/faults.md and faults.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
#: test name (without its parameters) -> (the fault, what must happen)
CASES = {
    "test_a_damaged_cache_entry_is_dropped_recomputed_and_reported": (
        "a cache entry with a valid header and damaged values",
        "dropped, recomputed and reported; the same clusters",
    ),
    "test_a_cache_that_cannot_be_written_degrades_to_no_cache_with_a_warning": (
        "a cache folder that cannot be written",
        "the run finishes without caching, with a warning",
    ),
    "test_sigterm_ends_a_run_killed_with_the_reason": (
        "SIGTERM during a long run",
        "the run ends KILLED with the reason, exit 143",
    ),
    "test_a_resumed_search_draws_new_pipelines_and_registers_one_version_per_best": (
        "a search resumed twice",
        "no replay counted, one registered version per best",
    ),
    "test_four_runs_started_at_once_on_a_new_sqlite_store_all_finish": (
        "four runs at once on a new sqlite store",
        "all four finish; the store stays usable",
    ),
    "test_an_unreachable_tracking_server_fails_in_seconds_naming_it": (
        "a tracking server that does not answer",
        "one line naming it within seconds; nothing in Optuna",
    ),
    "test_a_search_on_lyrics_only_offers_what_the_data_can_feed_and_refits_with_its_options": (
        "a search on a lyrics-only CSV with its own column name",
        "only encoders the data can feed; the re-fit keeps --set",
    ),
    "test_a_set_value_with_spaces_is_quoted_and_kept_whole": (
        "a --set path with a space",
        "kept whole when quoted; an open quote is one line",
    ),
    "test_a_config_that_is_not_utf8_is_one_line": (
        "a --config file that is not UTF-8",
        "one line saying so",
    ),
    "test_a_one_byte_mp3_is_skipped_as_not_audio": (
        "a 1-byte .mp3 among the clips",
        "skipped as not a recognised audio format",
    ),
    "test_a_feature_that_fails_on_every_clip_is_blamed_not_the_data": (
        "a feature plugin that raises on every clip",
        "the feature is named, not the data",
    ),
    "test_a_search_whose_trials_all_collapse_registers_nothing_and_says_so": (
        "a search whose trials all collapse",
        "nothing registered, and a note saying why",
    ),
    "test_a_plugin_that_fails_every_trial_stops_being_run": (
        "a third-party clusterer that raises on every trial",
        "not run after 3 failures; its later picks skipped, not counted",
    ),
    "test_a_search_stopped_by_sigterm_resumes_in_two_processes_at_once": (
        "SIGTERM mid-search, then two --resume processes at once",
        "exit 143, parent KILLED; no replay counted, one version",
    ),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        subprocess.run(
            [*PYTEST, str(ROOT / "tests" / "test_faults.py"), f"--junitxml={report}"],
            cwd=ROOT,
        )
        tree = ET.parse(report)
    rows = []
    for case in tree.iter("testcase"):
        name = case.get("name", "")
        base, _, params = name.partition("[")
        fault, expected = CASES.get(base, (base, "(see the test)"))
        problem = next(iter(case), None)
        if problem is None:
            observed = "as expected"
        elif problem.tag == "skipped":
            observed = f"skipped: {problem.get('message', '')}"
        else:
            observed = f"FAILED: {(problem.get('message') or '').splitlines()[0][:120]}"
        fault += f" ({params.rstrip(']')})" if params else ""
        rows.append(
            {
                "case": fault,
                "expected": expected,
                "observed": observed,
                "seconds": float(case.get("time", 0)),
            }
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"cpus": os.cpu_count(), "machine": platform.platform()}
    (RESULTS / "faults.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Faults, injected for real",
        "",
        "Written by `python benchmarks/faults.py` (it runs `tests/test_faults.py`).",
        "",
        "| case | expected | observed | s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['case']} | {r['expected']} | {r['observed']} | {r['seconds']:.0f} |" for r in rows
    ]
    passed = sum(r["observed"] == "as expected" for r in rows)
    lines += ["", f"{passed} of {len(rows)} as expected."]
    (RESULTS / "faults.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
