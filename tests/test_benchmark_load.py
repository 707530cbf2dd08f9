"""The load benchmark's bookkeeping (no timing, no PyTorch): its section of
RESULTS.md survives both benchmarks' rewrites, and the targets are read right."""

from benchmarks.load import (BEGIN, END, check_targets, kept_section, merge_section,
                             start_competitors, stop_competitors, summarize)

SECTION = f"{BEGIN}\n## Speed under load\n| a | b |\n{END}"


def test_the_section_is_appended_then_replaced_in_place():
    first = merge_section("# Results\n\ntable\n", SECTION)
    assert first == f"# Results\n\ntable\n\n{SECTION}\n"
    newer = SECTION.replace("| a | b |", "| c | d |")
    again = merge_section(first + "footer\n", newer)
    assert again == f"# Results\n\ntable\n\n{newer}\nfooter\n"


def test_the_main_benchmark_keeps_the_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    assert kept_section(path) == ""
    path.write_text(f"# old table\n\n{SECTION}\n")
    assert kept_section(path) == SECTION
    # the UCR panel's section (benchmarks/ucr.py) survives the rewrite too
    from benchmarks.ucr import SECTION_BEGIN, SECTION_END

    ucr = f"{SECTION_BEGIN}\n## UCR panel\n| x |\n{SECTION_END}"
    path.write_text(f"# old table\n\n{SECTION}\n\n{ucr}\n")
    assert kept_section(path) == f"{SECTION}\n\n{ucr}"


def _times(sk_loaded, torch_loaded):
    tasks = {"fit": {"sk1dcnn": None, "PyTorch": None}}
    times = {("fit", "sk1dcnn", "idle"): [1.0, 1.2, 0.8],
             ("fit", "sk1dcnn", "busy1"): sk_loaded,
             ("fit", "PyTorch", "idle"): [2.0, 2.0, 2.0],
             ("fit", "PyTorch", "busy1"): torch_loaded}
    return summarize(times, tasks, ["idle", "busy1"])


def test_summary_ratios_are_over_the_idle_median():
    rows = _times([2.0, 2.2, 3.5], [6.0, 4.0, 5.0])
    assert rows[0][:3] == ("fit", "sk1dcnn", 1.0)
    assert rows[0][3] == {"busy1": (2.2, 3.5)}
    assert rows[1][3] == {"busy1": (2.5, 3.0)}


def test_every_missed_target_is_named():
    assert check_targets(_times([2.0, 2.2, 2.9], [6.0, 4.0, 5.0])) == []
    assert check_targets(_times([2.6, 2.6, 3.1], [6.0, 6.0, 6.0])) == [
        "fit, busy1: median slowdown 2.60x > 2.5x", "fit, busy1: worst run 3.10x > 3.0x"]
    assert check_targets(_times([2.0, 2.0, 2.0], [3.0, 3.0, 3.0])) == [
        "fit, busy1: median slowdown 2.00x > PyTorch's 1.50x"]


def test_competitors_start_and_are_killed():
    procs = start_competitors("busy2", settle=0.0)
    assert len(procs) == 2 and all(p.poll() is None for p in procs)
    stop_competitors(procs)
    assert all(p.returncode is not None for p in procs)
    assert start_competitors("idle") == []
