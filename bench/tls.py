"""HTTPS for the benchmark, as DynamoDB's real endpoint speaks it.

On Lambda both SDKs verify DynamoDB's certificate against botocore's CA bundle (certifi's when
installed), and loading that bundle is part of the cold start. Over plain HTTP the baseline would
skip it while ours would still build aiohttp's default SSL contexts at import, which flatters the
baseline. So the proxy serves HTTPS with a throwaway certificate for 127.0.0.1, and the children
get AWS_CA_BUNDLE = botocore's own bundle plus that certificate: the same load as in production.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tls:
    context: ssl.SSLContext  # the proxy's server side
    ca_bundle: Path  # for AWS_CA_BUNDLE in the children


def make_tls(workdir: Path) -> Tls:
    """A self-signed certificate for IP 127.0.0.1 (openssl CLI) and a CA bundle that trusts it."""
    from botocore.httpsession import get_cert_path

    if shutil.which("openssl") is None:
        raise SystemExit("the openssl command is needed for HTTPS; or run with --plain-http")
    cert, key = workdir / "proxy-cert.pem", workdir / "proxy-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    bundle = workdir / "ca-bundle.pem"
    bundle.write_bytes(Path(get_cert_path(True)).read_bytes() + b"\n" + cert.read_bytes())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return Tls(context, bundle)
