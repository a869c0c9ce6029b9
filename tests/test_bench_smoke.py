"""`kirje bench api` at a tiny size, so the benchmark keeps working; it measures nothing here."""

from __future__ import annotations

from pathlib import Path

from tests.processes import kirje_json

RESULT_KEYS = {
    "scenario",
    "database",
    "load",
    "workers",
    "seconds",
    "recipients",
    "throughput",
    "unit",
    "baseline",
    "ratio",
    "p50_ms",
    "p99_ms",
    "peak_rss_mb",
    "errors",
}


def test_bench_api_prints_one_json_line(tmp_path: Path) -> None:
    # SQLite in a fresh data dir; the Python load generator, so wrk need not be installed.
    tiny = ["--seconds", "1", "--workers", "1", "--recipients", "50", "--load", "python"]
    result = kirje_json(tmp_path, "bench", "api", *tiny)
    assert set(result) == RESULT_KEYS
    assert result["scenario"] == "api"
    assert result["database"] == "sqlite"
    assert result["load"] == "python"
    assert result["recipients"] == 50
    assert result["throughput"] > 0
    assert result["baseline"] > 0
    assert result["errors"] == 0


def test_bench_segment_prints_one_json_line_and_counts_agree(tmp_path: Path) -> None:
    result = kirje_json(tmp_path, "bench", "segment", "--contacts", "2000")
    assert result["scenario"] == "segment"
    assert result["contacts"] == 2000
    assert 0 < result["members"] < 2000
    assert result["members"] == result["plain_sql_members"]
