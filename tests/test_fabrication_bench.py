"""bench/fabrication.py at a small size: the detectors keep the overall targets (recall >= 95 %,
precision >= 90 %) on a synthetic campaign with planted fabrications and awkward honest work."""
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fabrication.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("fabrication_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("seed", [12, 3])
def test_small_campaign_meets_the_targets(bench, seed):
    result = bench.run(villages=3, weeks=2, seed=seed)
    overall = result["overall"]
    assert overall["planted"] > 50 and overall["flags"] > 0
    assert overall["recall"] >= 0.95, bench.report(result)
    assert overall["precision"] >= 0.90, bench.report(result)
    assert all(row["planted"] for row in result["kinds"].values()), bench.report(result)  # every kind planted
