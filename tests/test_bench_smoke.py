"""The benchmarks at tiny sizes, so that they keep working; they measure nothing here."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_bench_send_mails_everyone_once(tmp_path: Path) -> None:
    # Below the share-process threshold, through the real job, DKIM and the sink.
    result = kirje_json(tmp_path, "bench", "send", "--recipients", "300", "--concurrency", "4")
    assert result["scenario"] == "send"
    assert result["recipients"] == 300
    assert result["sink"] in {"smtp-sink", "aiosmtpd"}
    assert result["concurrency"] == 4
    assert (result["duplicates"], result["missing"]) == (0, 0)
    assert result["job"] == {"sent": 300, "failed": 0, "unknown": 0}
    assert result["throughput"] > 0
    assert result["ratio"] == pytest.approx(result["throughput"] / result["baseline"], abs=0.002)


def test_bench_import_imports_every_row(tmp_path: Path) -> None:
    result = kirje_json(tmp_path, "bench", "import", "--rows", "500")
    assert result["scenario"] == "import"
    assert result["rows"] == 500
    assert (result["new"], result["rejected"]) == (500, 0)
    assert result["throughput"] > 0
