"""Key material the local org makes for itself on first start, kept in its data directory.

- A private CA and a server certificate signed by it (SAN ``IP:127.0.0.1`` and
  ``DNS:localhost``): simple-salesforce always speaks https, so clients verify against this CA
  instead of turning verification off.
- The integration "connected app" certificate and its RSA private key for the JWT bearer flow:
  the org verifies assertions against the certificate; the key (mode 0600) lets the demo sign them.
  An admin may bring their own certificate instead: put it at ``jwt-cert.pem`` in the data
  directory, or point the org at a file elsewhere (``jwt_cert`` in ``org.json``, or
  ``sfsync sandbox serve --jwt-cert PATH``). The org then has no key of its own for it.

Existing files are never overwritten, so a CA a user has trusted stays valid across restarts and
a certificate an admin supplied stays the one the org trusts.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sfsync.errors import ConfigError

_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class OrgCertificates:
    """Where the local org's key material lives."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    jwt_cert: Path
    jwt_key: Path | None
    """None when the org trusts a certificate whose private key it does not hold."""


def ensure_certificates(
    data_dir: Path, now: datetime, jwt_cert: Path | None = None
) -> OrgCertificates:
    """Create whatever key material is missing in ``data_dir`` and say where it all is.

    ``jwt_cert`` is an admin's own connected-app certificate kept outside the data directory
    (relative paths are taken from ``data_dir``); without it the org uses ``jwt-cert.pem``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    tls = OrgCertificates(
        ca_cert=data_dir / "ca.pem",
        server_cert=data_dir / "server.pem",
        server_key=data_dir / "server-key.pem",
        jwt_cert=data_dir / "jwt-cert.pem",
        jwt_key=data_dir / "jwt-key.pem",
    )
    if not (tls.ca_cert.exists() and tls.server_cert.exists() and tls.server_key.exists()):
        _write_tls_chain(tls, now)
    if jwt_cert is not None:
        supplied = jwt_cert.expanduser()
        supplied = supplied if supplied.is_absolute() else data_dir / supplied
        return _trusting_supplied(tls, supplied)
    return _with_jwt_pair(tls, now)


def _trusting_supplied(tls: OrgCertificates, cert_path: Path) -> OrgCertificates:
    """The org trusts an admin's certificate file as it is; it never writes to it."""
    if not cert_path.is_file():
        raise ConfigError(f"jwt_cert: {cert_path} does not exist or is not a file")
    try:
        load_jwt_public_key(cert_path)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"jwt_cert: {cert_path} is not a PEM certificate with an RSA key: {exc}"
        ) from None
    return OrgCertificates(
        ca_cert=tls.ca_cert,
        server_cert=tls.server_cert,
        server_key=tls.server_key,
        jwt_cert=cert_path,
        jwt_key=None,
    )


def _with_jwt_pair(paths: OrgCertificates, now: datetime) -> OrgCertificates:
    """The data directory's own JWT pair, filling in only what is missing.

    A ``jwt-cert.pem`` already there is kept whether or not ``jwt-key.pem`` is (an admin may have
    dropped in their own certificate without its key); a key without a certificate gets a
    certificate made from that key; only when both are missing is a new pair generated.
    """
    key_path = paths.jwt_cert.with_name("jwt-key.pem")
    if paths.jwt_cert.exists():
        has_key = key_path.exists()
        return OrgCertificates(
            ca_cert=paths.ca_cert,
            server_cert=paths.server_cert,
            server_key=paths.server_key,
            jwt_cert=paths.jwt_cert,
            jwt_key=key_path if has_key else None,
        )
    if key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"{key_path} does not hold an RSA private key")
        _write_jwt_cert(paths.jwt_cert, key, now)
    else:
        _write_jwt_pair(key_path, paths.jwt_cert, now)
    return paths


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sfsync local org"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_tls_chain(paths: OrgCertificates, now: datetime) -> None:
    """A CA and a loopback server certificate; EC keys keep the TLS handshake cheap."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("sfsync local org CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(paths.server_key, _pem_key(server_key))
    paths.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(paths.ca_cert.with_name("ca-key.pem"), _pem_key(ca_key))
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))


def _write_jwt_pair(key_path: Path, cert_path: Path, now: datetime) -> None:
    """The connected app's RS256 key pair; the certificate is what the org trusts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(key_path, _pem_key(key))
    _write_jwt_cert(cert_path, key, now)


def _write_jwt_cert(cert_path: Path, key: rsa.RSAPrivateKey, now: datetime) -> None:
    """A self-signed certificate for ``key``, written only where no certificate exists."""
    name = _name("sfsync integration connected app")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .sign(key, hashes.SHA256())
    )
    with cert_path.open("xb") as handle:  # "x": never replace a certificate already there
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, content: bytes) -> None:
    """Write a secret readable by its owner only (created 0600, never world-readable)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def load_jwt_public_key(cert_path: Path) -> rsa.RSAPublicKey:
    """The public key JWT bearer assertions must be signed for."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError(f"{cert_path} does not hold an RSA certificate")
    return key
