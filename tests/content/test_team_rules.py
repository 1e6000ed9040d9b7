"""The shipped team rule file (prod-example) under promtool: the example alert fires and stays silent.

Like tests/content/test_rules.py: promtool comes from Debian's ``prometheus`` package, which ``make
test`` installs; without it these tests fail rather than skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CLUSTERS

RULE_FILE = CLUSTERS / "prod-example" / "rules" / "http.rules.yaml"
DESCRIPTION = ("{} of the HTTP requests in namespace shop were answered with a 5xx status over the last 10 "
               "minutes.")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: run `make test`, which installs Debian's `prometheus` package")
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _requests(status: str, per_minute: int) -> dict[str, str]:
    labels = f'job="kubernetes-pods",namespace="shop",pod="web-1",status="{status}"'
    return {"series": f"http_requests_total{{{labels}}}", "values": f"0+{per_minute}x40"}


def _case(ok_per_minute: int, failed_per_minute: int, eval_time: str, firing: str | None) -> dict[str, Any]:
    alerts = [] if firing is None else [{
        "exp_labels": {"severity": "warning", "namespace": "shop"},
        "exp_annotations": {"summary": "More than 5% of HTTP requests fail.",
                            "description": DESCRIPTION.format(firing)},
    }]
    return {
        "interval": "1m",
        "input_series": [_requests("200", ok_per_minute), _requests("500", failed_per_minute)],
        "alert_rule_test": [{"eval_time": eval_time, "alertname": "HttpErrorRateHigh", "exp_alerts": alerts}],
    }


CASES = {
    "fires at 10% errors after 10m": _case(90, 10, "20m", "10%"),
    "pending before its 10m are up": _case(90, 10, "8m", None),
    "silent at 2% errors": _case(98, 2, "30m", None),
    "silent without errors": _case(100, 0, "30m", None),
}


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    shutil.copy(RULE_FILE, tmp_path / RULE_FILE.name)
    return tmp_path


def _write(directory: Path, name: str, groups: list[dict[str, Any]]) -> str:
    document = {"rule_files": [RULE_FILE.name], "evaluation_interval": "1m", "tests": groups}
    (directory / f"{name}.test.yaml").write_text(yaml.safe_dump(document, sort_keys=False, width=4096))
    return f"{name}.test.yaml"


def test_the_example_rule_file_passes_promtool_check_rules(rules_dir: Path) -> None:
    result = _promtool("check", "rules", "--lint-fatal", RULE_FILE.name, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rules found" in result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_example_alert(rules_dir: Path, case: str) -> None:
    result = _promtool("test", "rules", _write(rules_dir, "case", [CASES[case]]), cwd=rules_dir)
    assert result.returncode == 0, f"{case}: promtool test rules failed\n{result.stdout}{result.stderr}"


def test_a_wrong_expectation_fails(rules_dir: Path) -> None:
    """The tests above prove something only if promtool fails on a wrong expectation."""
    result = _promtool("test", "rules", _write(rules_dir, "wrong", [_case(98, 2, "30m", "2%")]), cwd=rules_dir)
    assert result.returncode != 0
    assert "HttpErrorRateHigh" in result.stdout + result.stderr
