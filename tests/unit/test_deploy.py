"""The deployment files agree with the CLI and with what they promise (issue #8, deployment).

No Docker daemon or systemd runs here, so the Dockerfile and the unit file are read as data: each
command they run must parse with the real `healthsync` command line (a renamed option or command
fails here, not in production), the container runs unprivileged with its state on a volume, the
build context keeps secrets and state out, and the unit is hardened yet can write its state.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest

from healthsync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
UNIT = ROOT / "deploy" / "healthsync.service"
README = ROOT / "README.md"

CONTAINER_CONFIG = "/config/healthsync.toml"
SCHEDULER = ["schedule", "run", "--config", CONTAINER_CONFIG]


# --- reading the files -----------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped too, as Docker does
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        out.append((instruction.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def exec_form(args: str) -> list[str]:
    """An instruction's JSON (exec) form; the shell form would run under /bin/sh, not as PID 1."""
    value = json.loads(args)
    assert isinstance(value, list), args
    assert all(isinstance(item, str) for item in value), args
    return value


def invocation(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse `healthsync ARGV` as click would run it: the command's name and its parameters."""
    args = list(argv)
    context = click.Context(cli, info_name="healthsync")
    command: click.Command = cli
    names: list[str] = []
    while isinstance(command, click.Group):
        assert args, f"`healthsync {' '.join(names)}` needs a subcommand"
        name = args.pop(0)
        found = command.get_command(context, name)
        assert found is not None, f"`healthsync {' '.join([*names, name])}` is not a command"
        names.append(name)
        if isinstance(found, click.Group):
            context = click.Context(found, info_name=name, parent=context)
        command = found
    parsed = command.make_context(" ".join(names), args, parent=context)
    return " ".join(names), parsed.params


def unit() -> configparser.ConfigParser:
    """The unit file as systemd reads it: sections of key=value, keys case-sensitive, repeats allowed."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def seconds(span: str) -> float:
    """A systemd time span (`300`, `5min`, `1min 30s`) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    total = 0.0
    for number, unit_name in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span):
        total += float(number) * units[unit_name]
    return total


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context (`**`, `*`, `?`, `[...]`, `!` exceptions).

    As in Docker, a pattern that matches a folder leaves out everything inside it.
    """
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _dockerignore_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negate
    return result


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


# --- the Dockerfile --------------------------------------------------------------------------


def test_the_image_is_python_311_slim_and_installs_the_package_with_pip() -> None:
    assert instructions("FROM") == ["python:3.11-slim"]
    installs = [run for run in instructions("RUN") if re.search(r"pip install \"?\.", run)]
    assert installs, "the image installs healthsync with `pip install .`"


def test_the_container_runs_as_a_dedicated_unprivileged_user() -> None:
    users = instructions("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}
    order = [instruction for instruction, _ in dockerfile()]
    assert order.index("USER") < order.index("ENTRYPOINT")
    created = " ".join(instructions("RUN"))
    assert re.search(rf"useradd .*\b{re.escape(user)}\b", created), f"the image never creates {user}"
    assert not any("pip install" in run for _, run in dockerfile()[order.index("USER") :]), (
        "nothing is installed after dropping privileges"
    )


def test_entrypoint_and_cmd_run_the_scheduler_on_the_mounted_config() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    assert exec_form(entrypoint) == ["healthsync"]
    assert exec_form(cmd) == SCHEDULER
    name, params = invocation(exec_form(cmd))
    assert name == "schedule run"
    assert params["config_path"] == Path(CONTAINER_CONFIG)


def test_state_lives_on_the_data_volume_owned_by_the_service_user() -> None:
    volumes = [v for args in instructions("VOLUME") for v in exec_form(args)]
    assert volumes == ["/data"]
    user = instructions("USER")[-1].split(":")[0]
    assert any(re.search(rf"chown {user}(:{user})? /data", run) for run in instructions("RUN"))
    assert "/data" not in CONTAINER_CONFIG  # the config is mounted apart (read-only), not in the state


def test_the_healthcheck_is_a_command_the_cli_accepts_and_reads_no_vendor() -> None:
    (check,) = instructions("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert re.search(r"--interval=\d+m", options), "a check every few minutes, not every few seconds"
    argv = exec_form(command)
    assert argv[0] == "healthsync"
    name, params = invocation(argv[1:])
    assert name == "status"  # reads the state store only: no vendor call, no API quota spent
    assert params["config_path"] == Path(CONTAINER_CONFIG)


def test_the_image_stops_with_sigterm_so_a_sync_can_finish_its_batch() -> None:
    assert instructions("STOPSIGNAL") in ([], ["SIGTERM"])


# --- .dockerignore ---------------------------------------------------------------------------


def _copied_files() -> list[str]:
    """Every file the Dockerfile's COPY instructions take from the build context."""
    files: list[str] = []
    for args in instructions("COPY"):
        *sources, _destination = args.split()
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                files += [
                    str(p.relative_to(ROOT))
                    for p in path.rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts
                ]
            else:
                files.append(source)
    return files


def test_the_build_context_keeps_what_the_image_needs() -> None:
    patterns = dockerignore()
    copied = _copied_files()
    assert {"pyproject.toml", "README.md", "healthsync/cli.py", "healthsync/mappings/hubspot.toml"} <= set(
        copied
    )
    assert [f for f in copied if ignored(f, patterns)] == []


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "healthsync.toml",
        "healthsync-secrets/hubspot_token",
        "healthsync-demo/demo-secrets/zendesk_token",
        "healthsync.db",
        "deep/in/state.db-wal",
        ".env",
        "prod/healthsync.env",
        "certs/server.key",
        "tests/unit/test_cli.py",
        "healthsync/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_the_build_context_leaves_out_secrets_state_and_development_files(path: str) -> None:
    assert ignored(path, dockerignore())


# --- the systemd unit ------------------------------------------------------------------------


def test_the_unit_runs_the_scheduler_as_a_dedicated_user() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/"), "systemd needs an absolute path"
    assert argv[0].endswith("/bin/healthsync")
    name, params = invocation(argv[1:])
    assert name == "schedule run"
    assert str(params["config_path"]).startswith("/etc/healthsync/")
    assert service["User"] not in {"root", "0"}
    assert service.get("DynamicUser", "no") == "no"  # a fixed user owns the state across restarts


def test_the_unit_restarts_on_failure_and_stops_gently() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    # Long enough for a batch under a vendor's rate limit: RetryPolicy waits up to 60 s between tries.
    assert seconds(service["TimeoutStopSec"]) >= 120
    assert service.get("RestartPreventExitStatus") == "2"  # a bad config is not fixed by restarting


def test_the_unit_is_hardened_but_can_write_its_state() -> None:
    text = UNIT.read_text(encoding="utf-8")
    service = unit()["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    state = service.get("StateDirectory")
    assert state == "healthsync", (
        "StateDirectory= makes /var/lib/healthsync writable under ProtectSystem=strict"
    )
    assert f"sqlite:////var/lib/{state}/healthsync.db" in text  # the state URL the comments recommend
    assert service["WorkingDirectory"] == f"/var/lib/{state}"


def test_the_unit_takes_secrets_from_an_environment_file_not_from_itself() -> None:
    service = unit()["Service"]
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/healthsync/")
    environment = " ".join(v for k, v in service.items() if k == "Environment")
    assert not re.search(r"TOKEN|PASSWORD|SECRET", environment)
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_knows_every_directive_in_the_unit(tmp_path: Path) -> None:
    copy = tmp_path / "healthsync.service"
    copy.write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")
    found = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [
        line
        for line in (found.stdout + found.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/healthsync is not installed here
    ]
    assert complaints == []


# --- documentation ---------------------------------------------------------------------------


def test_the_readme_documents_both_ways_of_running_it() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Running it unattended\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    for needed in (
        "Dockerfile",
        "deploy/healthsync.service",
        CONTAINER_CONFIG,
        "/data",
        "HEALTHSYNC_LOG_LEVEL",
    ):
        assert needed in section, needed
