"""Kafka client security: TLS and SASL settings shared by producers, consumers and admins."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from ler_platform.errors import ConfigurationError

_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to authenticate to and encrypt traffic with the brokers.

    ``protocol`` is Kafka's ``security.protocol``. The password is left out of ``repr`` so
    that this object can be logged or shown in an error without leaking it.
    """

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        if self.protocol not in _PROTOCOLS:
            raise ConfigurationError(
                f"Kafka security protocol {self.protocol!r} is not one of {_PROTOCOLS}"
            )
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_context"] = self._ssl_context()
        if self.protocol.startswith("SASL_"):
            if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
                raise ConfigurationError(
                    f"Kafka security protocol {self.protocol} needs a SASL mechanism,"
                    " user name and password"
                )
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def _ssl_context(self) -> ssl.SSLContext:
        # verifies the brokers' certificates and host names (ssl.create_default_context)
        try:
            return ssl.create_default_context(cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as err:
            raise ConfigurationError(
                f"cannot load the Kafka CA certificate file {self.ssl_cafile}: {err}"
            ) from err


PLAINTEXT = KafkaSecurity()
