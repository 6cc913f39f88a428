"""The course's benchmark (tools/benchmark.py) runs at tiny sizes and prints every row with
sane figures. A smoke test: it never asserts a speed, only that each figure was measured."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import urllib.error
import urllib.request

import benchmark
import pytest
from conftest import ROOT

#: Every row the table must hold (the start of its name), by section.
EXPECTED = {
    "a": ["aiohttp, 40 requests, limit 10 (default loop)", "httpx, 40 requests, Semaphore(10)",
          "urllib one by one, 40 requests (extrapolated)"],
    "b": ["aiohttp, one session", "httpx, one client, Semaphore(10), pool 10",
          "httpx, one client, pool 10, 60 in one gather", "urllib, 4 threads"],
    "c": ["one task, 2,000 alive (default loop)", "one task, Python objects (default loop)",
          "one thread, 50 alive", "one thread, Python objects"],
    "e": ["DemoAPI: added per request", "check_fetch_users (04)", "check_bytes_per_task (15)",
          "check_best_times (15)"],
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    json_path, png_path = folder / "bench.json", folder / "bench.png"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "benchmark.py"), "--quick",
                           "--json", str(json_path), "--plot", str(png_path)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, json.loads(json_path.read_text()), png_path


def test_the_table_has_every_row_on_stdout_and_progress_on_stderr(quick_run):
    done, _, _ = quick_run
    for names in EXPECTED.values():
        for name in names:
            assert name in done.stdout, name
    assert "[bench]" in done.stderr and "[bench]" not in done.stdout
    assert "Traceback" not in done.stderr


def test_every_figure_is_measured_and_sane(quick_run):
    _, data, _ = quick_run
    rows = data["rows"]
    for section, names in EXPECTED.items():
        for name in names:
            assert any(r["section"] == section and r["name"].startswith(name) for r in rows), name
    for row in rows:
        assert math.isfinite(row["value"]), row
        if row["unit"] in ("s", "µs", "req/s") and "in one gather" not in row["name"]:
            assert row["value"] > 0, row  # (the big httpx gather may finish nothing in time)
        if row["ratio"] is not None:
            assert math.isfinite(row["ratio"]) and row["ratio"] >= 0, row
    fan_out = next(r for r in rows if r["name"].startswith("aiohttp, 40 requests"))
    assert fan_out["ratio"] >= 0.95  # nothing beats the ideal: it is a floor
    threads = next(r for r in rows if r["name"] == "one thread, Python objects")
    assert threads["value"] > 0  # tracemalloc was running
    checks = [r for r in rows if r["name"].startswith("check_")]
    assert len(checks) == 3
    assert data["machine"]["quick"] is True and data["machine"]["python"]


def test_uvloop_rows_where_installed(quick_run):
    _, data, _ = quick_run
    names = [r["name"] for r in data["rows"]]
    if benchmark.uvloop_factory() is None:
        assert not any("uvloop" in n for n in names)
    else:
        assert "aiohttp, 40 requests, limit 10 (uvloop)" in names
        assert any(n.startswith("uvloop / default loop") for n in names)


def test_the_plot_is_a_png(quick_run):
    _, _, png_path = quick_run
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_only_rejects_unknown_sections(capsys):
    with pytest.raises(SystemExit):
        benchmark.main(["--only", "a,z"])
    assert "--only takes letters" in capsys.readouterr().err


def test_the_server_answers_and_rejects_bad_input():
    with benchmark.server_process() as url:
        with urllib.request.urlopen(f"{url}/item/7?delay=0") as response:
            assert json.load(response) == {"id": 7}
        for bad in ("/item/7?delay=abc", "/item/7?delay=99", "/item/x"):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url + bad)
            assert caught.value.code in (400, 404)
            caught.value.close()
