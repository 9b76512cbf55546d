"""Errors of the Prometheus exposure; each message says what to do next."""

from __future__ import annotations


class InvalidLabelValueError(ValueError):
    """A run field that becomes a Prometheus label value is empty, too long or not printable."""


class PortInUseError(OSError):
    """The endpoint's port is already taken by another process."""

    def __init__(self, port: int, addr: str):
        super().__init__(
            f"Port {port} on {addr} is already in use; pass port=0 to pick a free one or stop the other process."
        )
        self.port, self.addr = port, addr


class CertificateFileError(FileNotFoundError):
    """A TLS certificate, key or CA file does not exist or cannot be loaded."""


class PushError(ConnectionError):
    """The Pushgateway could not be reached or refused the push or delete."""
