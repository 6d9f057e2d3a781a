"""--tls: wss://, HTTPS with HTTP/1.1 and with HTTP/2, against the real server and MariaDB."""

from __future__ import annotations

import datetime
import hashlib
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from websockets.exceptions import InvalidStatus

from wsbench.bench.client import send_run
from wsbench.server.tls import make_self_signed
from wsbench.testing.server import ROOT, SERVER, ServerProcess

from .conftest import MYSQL_URL, Database
from .helpers import REFUSED_SCRIPT_PATHS, assert_script, open_run
from .test_hostile import BODIES, Chunked

FINGERPRINT = re.compile(r"SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


def served_certificate(server: ServerProcess, port: int) -> x509.Certificate:
    """The certificate a port shows."""
    pem = ssl.get_server_certificate((server.host, port), timeout=10)
    return x509.load_pem_x509_certificate(pem.encode())


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate, as the server logs it."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest().hex(":").upper()


def http_client(server: ServerProcess, http2: bool) -> httpx.AsyncClient:
    """An HTTPS client that trusts the server's certificate, speaking one HTTP version."""
    return httpx.AsyncClient(http1=not http2, http2=http2, verify=server.client_ssl(), timeout=30)


async def test_every_port_shows_the_fresh_self_signed_certificate_it_logs(
    tls_server: ServerProcess,
):
    logged = FINGERPRINT.search(tls_server.log)
    assert logged, tls_server.log
    assert tls_server.h2_port is not None
    for port in (tls_server.port, tls_server.http_port, tls_server.h2_port):
        certificate = served_certificate(tls_server, port)
        assert fingerprint(certificate) == logged[1]
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    lifetime = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=6) < lifetime <= datetime.timedelta(days=7)
    for port in (tls_server.port, tls_server.http_port, tls_server.h2_port):
        assert f"https://127.0.0.1:{port}/" in tls_server.log  # the addresses to accept it at


async def test_numbers_over_wss_are_committed_and_acked(
    tls_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    result = await send_run(tls_server.ws_url, run_id, range(1, 2001), ssl=tls_server.client_ssl())
    assert (result.acked, result.failed) == (2000, 0)
    assert result.hello["tls"] is True and result.hello["h2_port"] == tls_server.h2_port
    assert database.count(run_id) == 2000


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2"])
async def test_posts_over_https_use_the_port_s_own_http_version(
    tls_server: ServerProcess, database: Database, http2: bool
):
    run_id = database.new_run_id()
    base = tls_server.h2_url if http2 else tls_server.http_url
    async with http_client(tls_server, http2) as client:
        for seq in range(1, 51):
            response = await client.post(
                f"{base}/numbers?run={run_id}&seq={seq}",
                content=str(seq).encode(),
                headers={"Content-Type": "text/plain"},
            )
            assert (response.status_code, response.json()) == (200, {"acked": 1})
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        counted = await client.get(f"{base}/runs/{run_id}")
    assert counted.json() == {"run": run_id, "store": "mysql", "rows": 50}
    assert database.count(run_id) == 50


async def test_the_page_its_scripts_and_info_are_served_over_https(tls_server: ServerProcess):
    async with http_client(tls_server, False) as client:
        page = await client.get(f"https://{tls_server.host}:{tls_server.port}/")
        info = (await client.get(f"{tls_server.http_url}/info")).json()
    assert page.status_code == 200 and b"<title>" in page.content
    ws_base = f"https://{tls_server.host}:{tls_server.port}"
    for base, http2 in ((ws_base, False), (tls_server.http_url, False), (tls_server.h2_url, True)):
        async with http_client(tls_server, http2) as client:
            script = await client.get(f"{base}/page/http.js")
            assert_script(script.status_code, script.headers, script.content, "http.js")
            for path in REFUSED_SCRIPT_PATHS:
                assert (await client.get(base + path)).status_code == 404, base + path
    assert (info["tls"], info["h2_port"], info["http_port"]) == (
        True,
        tls_server.h2_port,
        tls_server.http_port,
    )


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2"])
@pytest.mark.parametrize(("body", "content_type", "status", "reason"), BODIES)
async def test_a_bad_body_gets_the_same_json_error_on_the_tls_ports(
    tls_server: ServerProcess,
    database: Database,
    http2: bool,
    body: bytes | Chunked,
    content_type: str | None,
    status: int,
    reason: str,
):
    run_id = database.new_run_id()
    base = tls_server.h2_url if http2 else tls_server.http_url
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with http_client(tls_server, http2) as client:
        response = await client.post(
            f"{base}/numbers?run={run_id}&seq=1",
            content=body.stream() if isinstance(body, Chunked) else body,
            headers=headers,
        )
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert database.count(run_id) == 0


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2"])
async def test_a_foreign_page_may_not_post_and_gets_no_cors_headers(
    tls_server: ServerProcess, database: Database, http2: bool
):
    run_id = database.new_run_id()
    base = tls_server.h2_url if http2 else tls_server.http_url
    own = f"https://127.0.0.1:{tls_server.port}"
    async with http_client(tls_server, http2) as client:
        foreign = await client.post(
            f"{base}/numbers?run={run_id}&seq=1",
            content=b"5",
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        allowed = await client.get(f"{base}/info", headers={"Origin": own})
        cleartext_origin = await client.get(
            f"{base}/info", headers={"Origin": f"http://127.0.0.1:{tls_server.port}"}
        )
    assert foreign.status_code == 403 and foreign.json() == {"error": "origin not allowed"}
    assert "access-control-allow-origin" not in foreign.headers
    assert allowed.headers["access-control-allow-origin"] == own
    assert allowed.headers["timing-allow-origin"] == own
    assert "access-control-allow-origin" not in cleartext_origin.headers  # only https pages
    assert database.count(run_id) == 0


async def test_wss_keeps_the_frame_size_limit(tls_server: ServerProcess, database: Database):
    run_id = database.new_run_id()
    websocket, _ = await open_run(tls_server, run_id)
    async with websocket:
        await websocket.send("1" * 2000)
        await websocket.wait_closed()
    assert websocket.close_code == 1009  # message too big, as without TLS
    assert database.count(run_id) == 0


async def test_wss_keeps_the_connection_limit(database: Database):
    with ServerProcess("--db", MYSQL_URL, "--tls", "--max-connections", "2") as server:
        first, _ = await open_run(server, database.new_run_id())
        second, _ = await open_run(server, database.new_run_id())
        with pytest.raises(InvalidStatus) as refused:
            await open_run(server, database.new_run_id())
        assert refused.value.response.status_code == 503
        await first.close()
        await second.close()


def test_a_certificate_made_elsewhere_is_served(tmp_path: Path, database: Database):
    cert, key = make_self_signed(tmp_path)
    with ServerProcess("--db", MYSQL_URL, "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        assert server.tls
        own = x509.load_pem_x509_certificate(cert.read_bytes())
        assert fingerprint(served_certificate(server, server.http_port)) == fingerprint(own)
        assert f"TLS with {cert}, SHA-256 fingerprint {fingerprint(own)}" in server.log


@pytest.mark.parametrize("broken", ["garbage", "wrong-key", "missing"])
def test_a_certificate_that_does_not_load_stops_the_start_with_the_reason(
    tmp_path: Path, broken: str
):
    cert, key = make_self_signed(tmp_path)
    if broken == "garbage":
        cert.write_text("not a certificate\n")
    elif broken == "wrong-key":
        other = tmp_path / "other"
        other.mkdir()
        _, key = make_self_signed(other)
    else:
        cert = tmp_path / "nowhere.pem"
    result = subprocess.run(
        [
            sys.executable,
            str(SERVER),
            "--db",
            "null:",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ]
        + ["--port", "0", "--http-port", "0", "--h2-port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"cannot start: cannot load the TLS certificate {cert} with the key {key}: " in (
        result.stderr
    )
    assert "mkcert" in result.stderr and "Traceback" not in result.stderr


def test_the_cert_and_key_go_together():
    result = subprocess.run(
        [sys.executable, str(SERVER), "--tls-cert", "cert.pem"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--tls-cert and --tls-key go together" in result.stderr


def test_the_bench_client_speaks_http2_and_checks_every_row(
    tls_server: ServerProcess, run_prefix: str
):
    result = subprocess.run(
        [sys.executable, "-m", "wsbench.bench", "--server", tls_server.ws_url, "--insecure"]
        + ["--transport", "websocket,http,http2", "--mode", "pipelined,one-at-a-time"]
        + ["-n", "200", "--runs", "1", "--warmup", "0", "--run-prefix", run_prefix],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for label in (
        "http2/pipelined",
        "http2/one-at-a-time",
        "http/pipelined",
        "websocket/pipelined",
    ):
        row = next(line for line in result.stdout.splitlines() if line.startswith(label + " "))
        assert row.endswith("verified"), row


def test_the_bench_client_refuses_an_untrusted_certificate_clearly(tls_server: ServerProcess):
    result = subprocess.run(
        [sys.executable, "-m", "wsbench.bench", "--server", tls_server.ws_url, "-n", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "certificate this machine does not trust" in result.stderr
    assert "--tls-ca FILE" in result.stderr and "--insecure" in result.stderr
