"""Services from metric names: Prometheus labels, a service map, the name rule with unit suffixes."""

from __future__ import annotations

import pandas as pd
import pytest

from faultgraph.errors import InvalidInputError
from faultgraph.io import read_metrics
from faultgraph.rca import default_service
from faultgraph.services import ServiceMap, load_service_map, name_rule, parse_labels, service_of, services_for


@pytest.mark.parametrize("metric, service", [
    # the cases
    ("db_latency_ms", "db"), ("api_memory_bytes", "api"), ("s3_cpu", "s3"),
    ('latency_ms{service="db"}', "db"), ('cpu{service="db"}', "db"),
    # kept from the old rule: simulated names, Nezha's service|Metric, SMD/ASD's numbered metrics
    ("s6_errors", "s6"), ("s7_traffic", "s7"), ("checkout_cpu", "checkout"), ("adservice|CpuUsageRate(%)", "adservice"),
    ("ts-order-service|PodServerLatencyP90(s)", "ts-order-service"), ("m12", "m12"), ("cpu", "cpu"),
    ("payment_service_cpu", "payment_service"), ("api.latency.p99", "api.latency"),
    # PetShop node|metric|statistic: the node (the dataset's own service map says so)
    ("PetSite|latency|Average", "PetSite"), ("DynamoDB_AWS::DynamoDB|latency|p99", "DynamoDB_AWS::DynamoDB"),
    # unit suffixes, stacked and in brackets
    ("http_request_duration_seconds_bucket", "http_request"), ("db_requests_total", "db"),
    ("web_cpu_percent", "web"), ("web_cpu(%)", "web"), ("cache_hit_ratio", "cache"), ("latency_ms", "latency"),
    # labels in order: service, job, app, container, pod, instance; none of them: the name rule on the bare name
    ('node_cpu_seconds_total{instance="a:9100",job="node"}', "node"), ('up{instance="db-1:9100"}', "db-1:9100"),
    ('cpu{pod="api-7d9f",app="api"}', "api"), ('cpu{mode="idle"}', "cpu"), ('db_cpu{mode="idle"}', "db"),
    ("cpu{job='db'}", "db"), ("cpu{job=db}", "db"), (r'cpu{service="a\"b"}', 'a"b'), ('cpu{service=""}', "cpu"),
])
def test_service_of(metric, service):
    assert service_of(metric) == service
    assert default_service(metric) == service  # the ranking's rule is this one


def test_labels_order_and_parse():
    assert parse_labels('cpu{job="a", service="b"}') == ("cpu", {"job": "a", "service": "b"})
    assert parse_labels("cpu") == ("cpu", {})
    assert parse_labels("weird{not a label}") == ("weird", {})
    metric = 'cpu{job="a",service="b"}'
    assert service_of(metric) == "b"
    assert service_of(metric, labels_order=("job",)) == "a"
    assert service_of(metric, labels_order=()) == "cpu"
    with pytest.raises(InvalidInputError, match="labels_order must be a sequence of label names, got 'job'"):
        service_of(metric, labels_order="job")
    with pytest.raises(InvalidInputError, match="metric must be a metric name"):
        service_of(3)  # type: ignore[arg-type]


def test_service_map_globs_regexes_and_order(tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text("# pattern: service\n'pg_*': db\n're:^(\\w+)-[0-9a-f]{5}_': \\1\n'*_cpu': compute\n"
                    "'*{job=\"x\"}': xjob\n", encoding="utf-8")
    rules = load_service_map(path)
    assert rules.rules[0] == ("pg_*", "db")
    assert service_of("pg_connections", service_map=rules) == "db"
    assert service_of("checkout-7f9a2_cpu", service_map=rules) == "checkout"  # regex group, before the glob
    assert service_of("web_cpu", service_map=rules) == "compute"
    assert service_of('up{job="x"}', service_map=rules) == "x"  # labels come first
    assert service_of('up{env="x"}', service_map={'*{env="x"}': "envx"}) == "envx"  # globs match the whole name
    assert service_of("db_latency_ms", service_map=rules) == "db"  # no rule matches: the name rule
    assert service_of("pg_x", service_map=str(path)) == "db"  # a path is read
    assert services_for(["pg_a", "s1_cpu"], service_map={"pg_*": "db"}) == {"pg_a": "db", "s1_cpu": "s1"}
    nested = tmp_path / "nested.yaml"
    nested.write_text("services:\n  'a*': alpha\n", encoding="utf-8")
    assert service_of("abc", service_map=load_service_map(nested)) == "alpha"
    # the rules that match no metric, each rule on its own (*_cpu matches though the regex takes it first)
    assert rules.unmatched(["checkout-7f9a2_cpu", "pg_x"]) == (('*{job="x"}', "xjob"),)
    assert rules.unmatched([]) == rules.rules and rules.unmatched(["pg_a", "w_cpu", 'up{job="x"}', "a-12345_"]) == ()


@pytest.mark.parametrize("text, match", [
    ("", "must be a non-empty mapping"),
    ("- a\n- b\n", "must be a non-empty mapping of metric pattern to service.*got list"),
    ("a: [1, 2]\n", "pattern 'a' must map to a service name"),
    ("'re:(': x\n", "pattern 're:\\(' is not a valid regular expression"),
    ("a: {b: c\n", "is not valid YAML"),
    ("!!python/object/apply:os.system ['echo hi']\n", "is not valid YAML"),
    ("'re:^a': '\\2'\n", "refers to a group its pattern"),
])
def test_bad_service_maps_are_refused(tmp_path, text, match):
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=match):
        service_of("abc", service_map=load_service_map(path))


def test_service_map_files_that_cannot_be_read(tmp_path):
    with pytest.raises(InvalidInputError, match="service map .*nope.yaml' cannot be read"):
        load_service_map(tmp_path / "nope.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(InvalidInputError, match="cannot be read: not UTF-8 text"):
        load_service_map(tmp_path / "bin.yaml")
    with pytest.raises(InvalidInputError, match="service_map must be a mapping"):
        ServiceMap.coerce(3)  # type: ignore[arg-type]


def test_name_rule_never_returns_empty():
    for name in ("_ms", "ms", "_", "a_", "(%)", "x|", "|y"):
        assert name_rule(name), name


def test_readers_keep_prometheus_names_whole(tmp_path):
    """A label list with commas is one metric, quoted or not, wide or long."""
    wide = tmp_path / "wide.csv"
    wide.write_text('time,cpu{service="db",job="x"},cpu{service="api"}\n1,1,2\n2,2,3\n3,3,5\n', encoding="utf-8")
    frame = read_metrics(wide)
    assert list(frame.columns) == ['cpu{service="db",job="x"}', 'cpu{service="api"}']
    assert frame.iloc[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert [service_of(c) for c in frame.columns] == ["db", "api"]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('time,"cpu{service=""db"",job=""x""}"\n1,1\n2,2\n3,4\n', encoding="utf-8")
    assert list(read_metrics(quoted).columns) == ['cpu{service="db",job="x"}']
    long = tmp_path / "long.csv"
    long.write_text('timestamp,metric,value\n' + "".join(
        f'{t},cpu{{service="db",job="x"}},{t}\n{t},cpu{{service="api"}},{2 * t}\n' for t in (1, 2, 3)),
        encoding="utf-8")
    frame = read_metrics(long)
    assert sorted(frame.columns) == ['cpu{service="api"}', 'cpu{service="db",job="x"}']
    assert frame['cpu{service="api"}'].tolist() == [2.0, 4.0, 6.0]
    # a frame built in Python keeps them too
    assert list(pd.DataFrame({'cpu{service="db"}': [1.0, 2.0]}).columns) == ['cpu{service="db"}']
