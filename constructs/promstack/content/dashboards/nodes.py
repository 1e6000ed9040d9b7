"""Nodes: CPU, memory, disk space and I/O, network and load per node, from node-exporter.

Nodes are chosen by name (``node_uname_info``'s ``nodename``); a hidden ``instance`` variable turns
the chosen names into the scrape targets the node-exporter series carry, and every query joins
``nodename`` back in so legends show node names rather than IP:port.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from promstack.content.dashboards._common import (
    datasource_variable,
    new_dashboard,
    query_variable,
    target,
    timeseries_panel,
)
from promstack.content.rules import JOBS

UID = "promstack-nodes"
TITLE = "Nodes"

_JOB = f'job="{JOBS["node_exporter"]}"'
_SEL = f'{_JOB}, instance=~"$instance"'
_FS = f'{_SEL}, fstype!="", mountpoint!=""'


def _by_node(expr: str) -> str:
    """``expr`` with the node name joined in from ``node_uname_info`` (one series per target)."""
    return f"({expr}) * on (instance) group_left (nodename) node_uname_info{{{_JOB}}}"


def build() -> dashboard_builders.Dashboard:
    return (
        new_dashboard(UID, TITLE, "Per-node resources from node-exporter.")
        .with_variable(datasource_variable())
        .with_variable(query_variable("node", "Node", f"label_values(node_uname_info{{{_JOB}}}, nodename)"))
        .with_variable(
            query_variable(
                "instance",
                "Target",
                f'label_values(node_uname_info{{{_JOB}, nodename=~"$node"}}, instance)',
                hidden=True,
            )
        )
        .with_row(dashboard_builders.Row("CPU and load"))
        .with_panel(
            timeseries_panel(
                "CPU utilisation",
                "Share of CPU time not idle, waiting for I/O or stolen, averaged over all cores.",
                [target(_by_node(f"instance:node_cpu_utilisation:rate5m{{{_SEL}}}"), "{{nodename}}")],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            timeseries_panel(
                "Load average (1m) per CPU",
                "1-minute load average divided by the number of CPUs; above 1 means runnable tasks wait.",
                [target(_by_node(f"instance:node_load1_per_cpu:ratio{{{_SEL}}}"), "{{nodename}}")],
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("Memory"))
        .with_panel(
            timeseries_panel(
                "Memory utilisation",
                "1 - MemAvailable / MemTotal. NodeMemoryPressure fires when too little is available.",
                [target(_by_node(f"instance:node_memory_utilisation:ratio{{{_SEL}}}"), "{{nodename}}")],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            timeseries_panel(
                "Memory available",
                "Memory the kernel can give to new workloads without swapping (MemAvailable).",
                [target(_by_node(f"node_memory_MemAvailable_bytes{{{_SEL}}}"), "{{nodename}}")],
                unit="bytes",
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("Disk"))
        .with_panel(
            timeseries_panel(
                "Filesystem space used",
                "Share of each filesystem in use. NodeFilesystemAlmostFull fires on the free space left.",
                [
                    target(
                        _by_node(f"1 - node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}}"),
                        "{{nodename}} {{mountpoint}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            timeseries_panel(
                "Disk I/O utilisation",
                "Share of time each device was busy with I/O.",
                [
                    target(
                        _by_node(f"instance_device:node_disk_io_time_seconds:rate5m{{{_SEL}}}"),
                        "{{nodename}} {{device}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Disk throughput",
                "Bytes read (positive) and written (negative) per second, per device.",
                [
                    target(
                        _by_node(f"rate(node_disk_read_bytes_total{{{_SEL}}}[$__rate_interval])"),
                        "{{nodename}} {{device}} read",
                    ),
                    target(
                        _by_node(f"-rate(node_disk_written_bytes_total{{{_SEL}}}[$__rate_interval])"),
                        "{{nodename}} {{device}} written",
                    ),
                ],
                unit="Bps",
                width=24,
            )
        )
        .with_row(dashboard_builders.Row("Network"))
        .with_panel(
            timeseries_panel(
                "Network received",
                "Bytes received per second over all interfaces except loopback.",
                [
                    target(
                        _by_node(f"instance:node_network_receive_bytes_excluding_lo:rate5m{{{_SEL}}}"),
                        "{{nodename}}",
                    )
                ],
                unit="Bps",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Network transmitted",
                "Bytes sent per second over all interfaces except loopback.",
                [
                    target(
                        _by_node(f"instance:node_network_transmit_bytes_excluding_lo:rate5m{{{_SEL}}}"),
                        "{{nodename}}",
                    )
                ],
                unit="Bps",
                min_value=0,
            )
        )
    )
