"""A throwaway certificate authority so the sandboxes serve real TLS on 127.0.0.1."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

import trustme


class SandboxTls:
    """A test CA, a server certificate for 127.0.0.1 it issued, and the CA as a PEM file.

    Clients trust the sandbox through :attr:`ca_bundle` (``requests``' ``verify=``), exactly as
    they would trust a corporate CA, so certificate checking stays on in tests and the demo.
    """

    def __init__(self) -> None:
        self._ca = trustme.CA()
        self._server_cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._folder = Path(tempfile.mkdtemp(prefix="revbridge-sandbox-ca-"))
        self.ca_bundle = self._folder / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_bundle))

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the server side, holding the issued certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context

    def cleanup(self) -> None:
        """Remove the CA bundle file."""
        shutil.rmtree(self._folder, ignore_errors=True)
