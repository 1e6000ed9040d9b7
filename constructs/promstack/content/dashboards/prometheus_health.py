"""Prometheus health: targets up, scrape durations, head series, storage, rule evaluation and alerts."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from promstack.content.dashboards._common import (
    datasource_variable,
    new_dashboard,
    query_variable,
    stat_panel,
    target,
    timeseries_panel,
)
from promstack.content.rules import JOBS

UID = "promstack-prometheus"
TITLE = "Prometheus health"

_PROM = f'job="{JOBS["prometheus"]}"'
_JOBS = 'job=~"$job"'


def build() -> dashboard_builders.Dashboard:
    return (
        new_dashboard(UID, TITLE, "Scraping, storage and rule evaluation of the promstack Prometheus.")
        .with_variable(datasource_variable())
        .with_variable(query_variable("job", "Scrape job", "label_values(up, job)"))
        .with_row(dashboard_builders.Row("Targets"))
        .with_panel(
            stat_panel(
                "Targets up",
                "Targets whose last scrape succeeded.",
                [target(f"sum(up{{{_JOBS}}})", "up")],
            )
        )
        .with_panel(
            stat_panel(
                "Targets down",
                "Targets whose last scrape failed. TargetDown fires when a job loses too many.",
                [target(f"count(up{{{_JOBS}}} == 0) or vector(0)", "down")],
            )
        )
        .with_panel(
            stat_panel(
                "Alerts firing",
                "Alerts currently firing, of every severity.",
                [target('count(ALERTS{alertstate="firing"}) or vector(0)', "firing")],
            )
        )
        .with_panel(
            stat_panel(
                "Configuration reloaded",
                "Whether the last configuration reload succeeded. PrometheusBadConfig fires when it did not.",
                [target(f"min(prometheus_config_last_reload_successful{{{_PROM}}})", "reload successful")],
                unit="bool_yes_no",
            )
        )
        .with_panel(
            timeseries_panel(
                "Targets up by job",
                "Share of each job's targets whose last scrape succeeded.",
                [target(f"avg by (job) (up{{{_JOBS}}})", "{{job}}")],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            timeseries_panel(
                "Scrape duration (slowest target per job)",
                "How long the slowest scrape of each job takes; close to the scrape timeout means data gaps.",
                [target(f"max by (job) (scrape_duration_seconds{{{_JOBS}}})", "{{job}}")],
                unit="s",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Samples per scrape by job",
                "Samples kept after metric relabelling, summed over each job's targets.",
                [target(f"sum by (job) (scrape_samples_post_metric_relabeling{{{_JOBS}}})", "{{job}}")],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Firing alerts",
                "Firing alerts by name and severity.",
                [
                    target(
                        'count by (alertname, severity) (ALERTS{alertstate="firing"})', "{{alertname}} ({{severity}})"
                    )
                ],
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("Storage"))
        .with_panel(
            timeseries_panel(
                "Head series",
                "Series in the in-memory head block; memory use grows with it.",
                [target(f"prometheus_tsdb_head_series{{{_PROM}}}", "{{instance}}")],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Samples appended per second",
                "Ingestion rate into the head block.",
                [
                    target(
                        f"rate(prometheus_tsdb_head_samples_appended_total{{{_PROM}}}[$__rate_interval])",
                        "{{instance}}",
                    )
                ],
                unit="ops",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Storage used",
                "Bytes on disk in persisted blocks and in the write-ahead log, "
                "against the size retention limit (0: none).",
                [
                    target(f"prometheus_tsdb_storage_blocks_bytes{{{_PROM}}}", "{{instance}} blocks"),
                    target(f"prometheus_tsdb_wal_storage_size_bytes{{{_PROM}}}", "{{instance}} WAL"),
                    target(f"prometheus_tsdb_retention_limit_bytes{{{_PROM}}}", "{{instance}} retention limit"),
                ],
                unit="bytes",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Storage failures",
                "Failed compactions, block reloads and head truncations, and WAL corruptions found, per hour.",
                [
                    target(
                        f"increase(prometheus_tsdb_compactions_failed_total{{{_PROM}}}[1h])",
                        "{{instance}} compactions failed",
                    ),
                    target(
                        f"increase(prometheus_tsdb_reloads_failures_total{{{_PROM}}}[1h])",
                        "{{instance}} reloads failed",
                    ),
                    target(
                        f"increase(prometheus_tsdb_head_truncations_failed_total{{{_PROM}}}[1h])",
                        "{{instance}} head truncations failed",
                    ),
                    target(
                        f"increase(prometheus_tsdb_wal_corruptions_total{{{_PROM}}}[1h])",
                        "{{instance}} WAL corruptions",
                    ),
                ],
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("Rules"))
        .with_panel(
            timeseries_panel(
                "Rule evaluation failures",
                "Failed rule evaluations per second by rule group. PrometheusRuleEvaluationFailures fires on any.",
                [
                    target(
                        "sum by (rule_group) ("
                        f"rate(prometheus_rule_evaluation_failures_total{{{_PROM}}}[$__rate_interval]))",
                        "{{rule_group}}",
                    )
                ],
                unit="ops",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Rule group evaluation time vs interval",
                "Last evaluation duration of each rule group as a share of its interval; "
                "at 100% iterations are missed.",
                [
                    target(
                        f"prometheus_rule_group_last_duration_seconds{{{_PROM}}}"
                        f" / prometheus_rule_group_interval_seconds{{{_PROM}}}",
                        "{{rule_group}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
            )
        )
    )
