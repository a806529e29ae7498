"""Settings refuse unsafe production configurations; a production-like one passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_secret_key_one_is_generated_into_the_data_folder(tmp_path):
    result = run_manage("check", DEBUG="false", SECRET_KEY="", STUDIO_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / ".secret-key").read_text().strip()) >= 50


def test_a_data_folder_the_studio_cannot_write_is_explained(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    result = run_manage("check", DEBUG="false", SECRET_KEY="", STUDIO_DATA_DIR=str(blocked))
    assert result.returncode != 0
    assert "Set SECRET_KEY, or make" in result.stderr


def test_production_refuses_wildcard_hosts():
    result = run_manage("check", DEBUG="false", SECRET_KEY="k" * 60, ALLOWED_HOSTS="*")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k7#Qp2!vX9@mL4$wR8^zT1&nB6*cY3(hJ5)dF0_gS-aH2%eU7~iO4+",
        ALLOWED_HOSTS="studio.example.com",
        STUDIO_PUBLIC_URL="https://studio.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_database_url_accepts_sqlite_paths(tmp_path):
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['NAME'])",
        DATABASE_URL=f"sqlite:///{tmp_path}/other.sqlite3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"{tmp_path}/other.sqlite3"


def test_bad_number_in_environment_is_explained():
    result = run_manage("check", TAVUS_CONCURRENCY_LIMIT="three")
    assert result.returncode != 0
    assert "TAVUS_CONCURRENCY_LIMIT must be a whole number" in result.stderr
