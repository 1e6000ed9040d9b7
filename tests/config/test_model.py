"""One home per concept: one model base, one of each scalar type, one field-path formatter, one YAML reader."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from promstack.components.prometheus_adapter import rules as adapter_rules
from promstack.config import cluster, fleet, model, yamlio
from promstack.config.cluster import ClusterSpec
from promstack.config.fleet import FleetConfig
from promstack.content import rules as alert_rules


def models(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        for field in tp.model_fields.values():
            yield from models(field.annotation)
    for arg in typing.get_args(tp):
        yield from models(arg)


def test_every_input_model_is_a_config_model() -> None:
    found = set(models(ClusterSpec)) | set(models(FleetConfig))
    assert {alert_rules.AlertsConfig, adapter_rules.AdapterRule, adapter_rules.SeriesFilter} <= found
    for cls in found:
        assert issubclass(cls, model.Model), cls
        for key in ("frozen", "extra", "strict", "populate_by_name", "alias_generator"):
            assert cls.model_config.get(key) == model.Model.model_config[key], (cls, key)


def test_one_of_each_scalar_type() -> None:
    assert alert_rules.AlertsConfig.model_fields["target_down_for"].metadata == \
        cluster.PrometheusConfig.model_fields["retention"].metadata[:1]
    for name in ("Duration", "PositiveDuration", "GoDuration", "Quantity", "DnsLabel", "DnsSubdomain"):
        homes = {getattr(m, name) for m in (cluster, fleet, alert_rules, adapter_rules) if hasattr(m, name)}
        assert homes <= {getattr(model, name)}, name


def test_one_reader_one_writer_one_error() -> None:
    for name, home in (("read_yaml", yamlio), ("dump", yamlio), ("ConfigError", model), ("validate_model", model)):
        homes = {getattr(m, name) for m in (cluster, fleet, alert_rules, adapter_rules) if hasattr(m, name)}
        assert homes <= {getattr(home, name)}, name


def test_field_path() -> None:
    assert model.field_path(("adapter", "rules", 0, "name", "matches")) == "adapter.rules[0].name.matches"
    assert model.field_path(()) == "(top level)"


def test_field_path_quotes_odd_keys_and_never_echoes_a_long_one() -> None:
    assert model.field_path(("overrides", "a.b\n")) == 'overrides["a.b\\n"]'
    assert model.field_path(("x", "k" * 100)) == 'x["' + "k" * 30 + '..."]'


def test_show_keeps_messages_short_and_on_one_line() -> None:
    assert model.show("a\nb") == "'a\\nb'"
    assert model.show("x" * 1000) == "'" + "x" * 60 + "'... (1000 characters)"
    assert model.show(10**5000) == "a number of about 5001 digits"
    assert model.show(10**70) == "a 71-digit number"
    assert model.show(["a"] * 5) == "a list of 5"


def test_durations_are_bounded() -> None:
    assert model.duration_ms("1h30m") == 5_400_000
    assert model.duration_ms("0s") == 0
    assert model.duration_ms("292y") is not None and model.duration_ms("293y") is None
    assert model.duration_ms("9" * 10_000_000 + "d") is None
    assert model.go_duration_ns("1.5h") == 5400 * 10**9
    assert model.go_duration_ns("1d") is None and model.go_duration_ns("2562048h") is None
