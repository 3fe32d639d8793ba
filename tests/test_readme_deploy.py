"""README's Deploy section stays true: its systemd units pass `systemd-analyze verify` (with this
virtualenv's binaries) and run the same commands as the Procfile."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
README_BIN = "/opt/cem-connector/venv/bin/"


def readme_units() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    deploy = text[text.index("## Deploy"):text.index("## Development")]
    return dict(re.findall(r"`/etc/systemd/system/([\w@.-]+\.service)`[^\n]*:\n```ini\n(.*?)```", deploy, re.S))


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_units_run_the_procfile_commands() -> None:
    units = readme_units()
    assert set(units) == {"cem-migrate.service", "cem-web.service", "cem-worker@.service", "cem-scheduler.service"}
    commands = {name: shlex.split(re.search(r"^ExecStart=(.+)$", unit, re.M).group(1).replace(README_BIN, ""))
                for name, unit in units.items()}
    expected = {f"cem-{'migrate' if process == 'release' else process}{'@' if process == 'worker' else ''}.service":
                shlex.split(line) for process, line in procfile().items()}
    assert commands == expected


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("CEM_ENV=production\n")
    paths = []
    for name, unit in readme_units().items():
        path = tmp_path / name
        path.write_text(unit.replace(README_BIN, f"{BIN}/").replace("/etc/cem-connector/env", str(env_file)))
        paths.append(str(path))
    result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
