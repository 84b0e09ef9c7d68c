"""`manage.py sandboxes --only firs` serves the FIRS sandbox and prints its URL."""
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sandboxes_command_prints_the_firs_url():
    port = free_port()
    env = {**os.environ, "SANDBOX_PORT_FIRS": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandboxes", "--only", "firs"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert lines, "no output within 60 s"
        name, url = lines[0].split()
        assert (name, url) == ("firs", f"http://127.0.0.1:{port}")
        assert httpx.get(f"{url}/api", timeout=5).json() == {"healthy": True}
    finally:
        process.terminate()
        process.wait(timeout=15)
