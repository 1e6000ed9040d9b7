"""User regexes are RE2, as in Prometheus and prometheus-adapter: checked and run with RE2, never Python's re."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import CLUSTERS
from promstack.components.prometheus_adapter.rules import AdapterRule, RuleName, RuleResources, SeriesFilter
from promstack.config.cluster import parse_spec
from promstack.config.model import ConfigError
from promstack.config.regex import NotRe2, compile_re2
from promstack.content.hpa_check import candidate_series, served_metrics

# Exponential for a backtracking engine on any word of 30 or so characters without a '!'.
CATASTROPHIC = r"^(\w*\w*)*!$"
LONG_NAME = "container_cpu_usage_seconds_total_and_some_more"


def rule(**fields: Any) -> dict[str, Any]:
    return {"seriesQuery": '{__name__=~".+"}', "resources": {"template": "<<.Resource>>"},
            "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)", **fields}


def adapter_error(adapter_rule: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"adapter": {"rules": [adapter_rule]}}, "clusters/x/cluster.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


@pytest.mark.parametrize(("pattern", "reason"), [
    ("^(?=foo)bar", "invalid perl operator: (?=); RE2 has no lookahead or lookbehind"),
    ("(?!x)y", "invalid perl operator: (?!"),
    ("(?<=a)b", "invalid perl operator: (?<="),
    (r"(a)\1", r"invalid escape sequence: \1); RE2 has no backreferences"),
    ("a++", "bad repetition operator: ++); RE2 has no possessive quantifiers"),
    ("((", "missing ): (("),
])
def test_non_re2_syntax_is_one_clear_line_per_field(pattern: str, reason: str) -> None:
    clipped = repr(pattern)
    for fields, path in (({"name": {"matches": pattern}}, "name.matches"),
                         ({"seriesFilters": [{"is": pattern}]}, "seriesFilters[0].is"),
                         ({"seriesFilters": [{"isNot": pattern}]}, "seriesFilters[0].isNot")):
        problem = adapter_error(rule(**fields))
        assert problem.startswith(f"clusters/x/cluster.yaml: adapter.rules[0].{path}: {clipped} is not an RE2 "
                                  f"regular expression ("), problem
        assert reason in problem
    job = {"jobName": "x", "role": "pod",
           "relabelings": [{"sourceLabels": ["a"], "regex": pattern, "action": "keep"}]}
    with pytest.raises(ConfigError) as caught:
        parse_spec({"prometheus": {"extraScrapeConfigs": [job]}}, "clusters/x/cluster.yaml")
    assert [p for p in caught.value.problems if "is not an RE2 regular expression" in p] == caught.value.problems
    assert f"relabelings[0].regex: {clipped} is not an RE2 regular expression (" in caught.value.problems[0]


def test_a_series_query_regex_matcher_must_be_re2_too() -> None:
    problem = adapter_error(rule(seriesQuery='{__name__=~"(a)\\\\1", job!~"(?=x)"}'))
    assert problem.startswith("clusters/x/cluster.yaml: adapter.rules[0].seriesQuery: '(a)\\\\1' is not an RE2")


def test_a_long_regex_is_clipped_in_its_error_line() -> None:
    problem = adapter_error(rule(name={"matches": "(?=" + "x" * 500}))
    assert "... (503 characters) is not an RE2 regular expression" in problem
    assert len(problem) < 300


@pytest.mark.parametrize("pattern", ["^(.*)_total$", "^container_(.*)_seconds_total$", "(?i)HTTP_.*",
                                     "^(?P<base>.*)_count$", r"a|b|[0-9]{1,3}\.x", "(.+?)(?::\\d+)?;(\\d+)", ""])
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    # defaultRules off: this catch-all rule would serve the default rules' metrics a second time.
    parse_spec({"adapter": {"defaultRules": False,
                            "rules": [rule(name={"matches": pattern}, seriesFilters=[{"isNot": pattern or "x"}])]},
                "prometheus": {"extraScrapeConfigs": [{"jobName": "x", "role": "pod", "relabelings": [
                    {"sourceLabels": ["a"], "regex": pattern, "action": "keep"}]}]}}, "clusters/x/cluster.yaml")


def test_the_catastrophic_pattern_is_valid_re2_and_runs_in_linear_time() -> None:
    # Python's re would not return from this search within the age of the universe.
    assert compile_re2(CATASTROPHIC).search(LONG_NAME) is None
    assert compile_re2(CATASTROPHIC).search("abc!") is not None
    adapter_rule = AdapterRule(series_query='{__name__=~".+"}', resources=RuleResources(template="<<.Resource>>"),
                               series_filters=(SeriesFilter(is_not=CATASTROPHIC),),
                               name=RuleName(matches=CATASTROPHIC, as_="x"), metrics_query="y")
    assert adapter_rule.metric_name(LONG_NAME) is None
    assert served_metrics([adapter_rule], [LONG_NAME, "x" * 200]) == set()


def test_the_hpa_check_runs_series_query_regexes_with_re2() -> None:
    adapter_rule = AdapterRule(series_query='{__name__=~"(\\\\w*\\\\w*)*!"}',
                               resources=RuleResources(template="<<.Resource>>"), metrics_query="y")
    assert candidate_series(adapter_rule, [LONG_NAME, "ok!"]) == ["ok!"]
    negated = adapter_rule.model_copy(update={"series_query": '{__name__!~"(\\\\w*\\\\w*)*!"}'})
    assert candidate_series(negated, [LONG_NAME, "ok!"]) == [LONG_NAME]


def test_name_as_with_a_group_the_pattern_lacks_expands_to_nothing() -> None:
    adapter_rule = AdapterRule(series_query="x", resources=RuleResources(template="<<.Resource>>"),
                               name=RuleName(matches="^(.*)_total$", as_="${1}_per_${2}"), metrics_query="y")
    assert adapter_rule.metric_name("http_requests_total") == "http_requests_per_"


def test_compile_re2_refuses_what_go_refuses() -> None:
    with pytest.raises(NotRe2, match=r"is not an RE2 regular expression \(invalid perl operator: \(\?="):
        compile_re2("(?=a)")


def test_synth_with_the_catastrophic_pattern_finishes(tmp_path: Path) -> None:
    """The whole synth, HPA check included, in a child process: it must end (success) well within 60 s."""
    clusters = tmp_path / "clusters"
    clusters.mkdir()
    shutil.copy(CLUSTERS / "fleet.yaml", clusters / "fleet.yaml")
    shutil.copytree(CLUSTERS / "demo", clusters / "demo")
    cluster_yaml = clusters / "demo" / "cluster.yaml"
    text = cluster_yaml.read_text()
    assert text.count("\nadapter:\n") == 1
    cluster_yaml.write_text(text.replace("\nadapter:\n", (
        "\nadapter:\n"
        "  rules:\n"
        "  - seriesQuery: '{__name__=~\".+\",namespace!=\"\"}'\n"
        f"    seriesFilters: [{{isNot: '{CATASTROPHIC}'}}]\n"
        "    resources: {template: <<.Resource>>}\n"
        f"    name: {{matches: '{CATASTROPHIC}', as: 'bang'}}\n"
        "    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'\n"
        "  - seriesQuery: '{__name__=~\"(\\\\w*\\\\w*)*!\",namespace!=\"\"}'\n"
        "    resources: {template: <<.Resource>>}\n"
        "    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'\n"
    ), 1))
    promstack = Path(sys.executable).parent / "promstack"
    done = subprocess.run([str(promstack), "synth", "--clusters-dir", str(clusters)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "dist" / "clusters" / "demo").is_dir()


def test_synth_refuses_a_lookahead_with_one_line(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters"
    clusters.mkdir()
    shutil.copy(CLUSTERS / "fleet.yaml", clusters / "fleet.yaml")
    shutil.copytree(CLUSTERS / "demo", clusters / "demo")
    cluster_yaml = clusters / "demo" / "cluster.yaml"
    cluster_yaml.write_text(cluster_yaml.read_text().replace("\nadapter:\n", (
        "\nadapter:\n  rules:\n  - seriesQuery: 'x'\n    resources: {template: <<.Resource>>}\n"
        "    name: {matches: '^(?=a)b'}\n    metricsQuery: 'y'\n"), 1))
    promstack = Path(sys.executable).parent / "promstack"
    done = subprocess.run([str(promstack), "synth", "--clusters-dir", str(clusters)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "RE2" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith("demo/cluster.yaml: adapter.rules[0].name.matches: '^(?=a)b' is not an RE2 regular "
                             "expression (invalid perl operator: (?=); RE2 has no lookahead or lookbehind; match "
                             "the text itself, or filter in a second step"), lines[0]
    assert not (tmp_path / "dist").exists()
