"""A real nginx (Debian's) in front of the review app, as the README sets it up: HTTP basic
authentication, the signed-in user passed on in ``X-Forwarded-User`` and their groups in
``X-Forwarded-Groups``, whatever the client sent in those headers overwritten or cleared.

It runs in the foreground as a child of the test, with its configuration, pid file, log and
temporary files under the test's directory. It connects to the app from ``127.0.0.2`` (another
loopback address), so the app can trust nginx alone while the test's own requests, from
``127.0.0.1``, are a client the app does not trust."""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop

NGINX = Path("/usr/sbin/nginx")
PROXY_ADDRESS = "127.0.0.2"  # the address nginx connects to the app from


def require_nginx() -> Path:
    """Debian's nginx. Without it the test is skipped, except where ``OPSGATE_REQUIRE_BROWSER=1``
    says the tests of real components must run (CI): there it fails."""
    if not NGINX.exists():
        reason = f"{NGINX} is missing (Debian: apt-get install -y nginx)"
        if os.environ.get("OPSGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OPSGATE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return NGINX


def ssha(password: str) -> str:
    """A password as nginx's ``auth_basic_user_file`` reads it in its ``{SSHA}`` scheme."""
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def _config(root: Path, port: int, upstream: str, groups: dict[str, str]) -> str:
    mapped = "".join(f'        "{user}" "{listed}";\n' for user, listed in groups.items())
    # the master runs as the current user; as root its workers would be `nobody`, who cannot read
    # the test's directory, so they stay root there
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $remote_user $review_groups {{
        default "";
{mapped}    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_bind {PROXY_ADDRESS};
        proxy_set_header Host $http_host;
        location / {{
            auth_basic "opsgate review";
            auth_basic_user_file {root}/htpasswd;
            proxy_pass {upstream};
            # set, never passed on from the client: an empty value sends no header at all
            proxy_set_header X-Forwarded-User $remote_user;
            proxy_set_header X-Forwarded-Groups $review_groups;
        }}
        location /static/ {{
            proxy_pass {upstream};
            proxy_set_header X-Forwarded-User "";
            proxy_set_header X-Forwarded-Groups "";
        }}
    }}
}}
"""


@contextmanager
def nginx_proxy(root: Path, upstream: str, users: dict[str, str], groups: dict[str, str]) -> Iterator[str]:
    """nginx in front of ``upstream``: ``users`` (name: password) may sign in with HTTP basic
    authentication, ``groups`` (name: comma-separated groups) are passed on for them. Yields its
    base URL; stops it afterwards."""
    nginx = require_nginx()
    root.mkdir(parents=True, exist_ok=True)
    (root / "htpasswd").write_text("".join(f"{name}:{ssha(password)}\n" for name, password in users.items()))
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(_config(root, port, upstream, groups))
    command = [str(nginx), "-p", str(root), "-e", str(root / "error.log"), "-c", str(config), "-g", "daemon off;"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                raise AssertionError(f"nginx ({getpass.getuser()}) stopped: {log[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen within 30 s"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
