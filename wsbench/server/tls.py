"""TLS for every port: the certificate and key given, or a fresh self-signed one for loopback."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import hashlib
import ipaddress
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..errors import StartupError
from .config import Config

SELF_SIGNED_DAYS = 7  # long enough for a benchmark session, short enough to be thrown away
PINNABLE_DAYS = 14  # the longest validity WebTransport's serverCertificateHashes accepts
SELF_SIGNED_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Certificate:
    """A certificate and key on disk, and what a user needs to recognise it."""

    cert: Path
    key: Path
    self_signed: bool
    fingerprint: str  # SHA-256 of the certificate, AA:BB:...
    sha256: str  # base64 SHA-256 of the DER certificate: WebTransport's serverCertificateHashes
    # Whether a page may pin it by that hash: WebTransport takes ECDSA keys valid 14 days at most.
    pinnable: bool
    spki_sha256: str  # base64 SHA-256 of the public key: Chromium's --ignore-...-spki-list
    not_after: datetime.datetime

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for a server: this certificate, TLS 1.2 at least."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a fresh ECDSA P-256 certificate for 127.0.0.1, ::1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsbench on localhost")])
    now = datetime.datetime.now(datetime.UTC)
    alternative_names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "wsbench-cert.pem", directory / "wsbench-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def load(cert: Path, key: Path, self_signed: bool) -> Certificate:
    """Check that a certificate and its key load together; StartupError saying why not."""
    try:
        parsed = x509.load_pem_x509_certificate(cert.read_bytes())
        spki = parsed.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        loaded = Certificate(
            cert=cert,
            key=key,
            self_signed=self_signed,
            fingerprint=parsed.fingerprint(hashes.SHA256()).hex(":").upper(),
            sha256=base64.b64encode(parsed.fingerprint(hashes.SHA256())).decode(),
            pinnable=isinstance(parsed.public_key(), ec.EllipticCurvePublicKey)
            and parsed.not_valid_after_utc - parsed.not_valid_before_utc
            <= datetime.timedelta(days=PINNABLE_DAYS),
            spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode(),
            not_after=parsed.not_valid_after_utc,
        )
        loaded.server_context()  # the key must match the certificate
    except (OSError, ValueError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise StartupError(
            f"cannot load the TLS certificate {cert} with the key {key}: {reason}; give a PEM "
            "certificate and its PEM key (e.g. made by `mkcert 127.0.0.1 localhost ::1`), or "
            "leave out --tls-cert and --tls-key for a fresh self-signed one"
        ) from None
    return loaded


@contextlib.contextmanager
def certificate(config: Config) -> Iterator[Config]:
    """The configuration with the certificate its TLS ports use, made now if none was given.

    A self-signed certificate lives in a private directory removed on exit; with ``--workers``
    the supervisor makes it once, so every worker serves the same one.
    """
    if not config.tls or config.tls_cert is not None:
        yield config
        return
    with tempfile.TemporaryDirectory(prefix="wsbench-tls-") as directory:
        cert, key = make_self_signed(Path(directory))
        yield dataclasses.replace(
            config, tls_cert=str(cert), tls_key=str(key), tls_self_signed=True
        )
