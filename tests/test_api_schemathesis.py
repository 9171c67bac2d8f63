"""schemathesis against the OpenAPI schema of the running server: no server error, responses match the schema.

Excluded checks, on purpose: `positive_data_acceptance` and `negative_data_rejection` — an upload body is an
opaque document (YAML, Turtle, …) whose validity the loader and the SHACL shapes decide, not the OpenAPI
schema, so a schema-valid body may well be refused (400) and any byte string is "schema-valid".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, TOKEN, Server, upload  # noqa: E402

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.skipif(not Path(SCHEMATHESIS).exists(), reason="schemathesis is not installed (pip install -e '.[test]')")
def test_schemathesis(tmp_path):
    srv = Server(tmp_path / "data", env={"SORTAI_QUERY_TIMEOUT": "3"}).start()
    try:
        with srv.client() as client:
            assert upload(client, EXAMPLES / "mig-multitenant" / "description.yaml", "mig").status_code == 201
        result = subprocess.run(
            [SCHEMATHESIS, "run", srv.url + "/openapi.json", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance,negative_data_rejection",
             "--max-examples", "25", "--request-timeout", "60", "--header", f"Authorization: Bearer {TOKEN}",
             "--no-color"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(Path(__file__).parent)})
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        log = srv.server_log()
        assert "Traceback" not in log, log[-4000:]
    finally:
        srv.stop()
