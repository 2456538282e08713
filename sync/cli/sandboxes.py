"""Start the three loopback sandboxes together and produce settings that point at them."""

from __future__ import annotations

import io
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import SecretStr
from ruamel.yaml import YAML

from config.settings import (
    BillingSettings,
    ErpSettings,
    FlowSettings,
    RetrySettings,
    SalesforceSettings,
    Settings,
)
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.erp.sandbox import ErpSandbox
from sandboxes.salesforce.sandbox import SalesforceSandbox

# Quote-to-cash from Salesforce, and receivables from the ERP (which owns invoices, payments
# and credit memos) to Salesforce Billing and the billing system.
SANDBOX_FLOWS: tuple[dict[str, Any], ...] = (
    {"name": "quote-to-cash", "source": "salesforce", "targets": ("billing", "erp"),
     "schedule": "*/15 * * * *"},
    {"name": "receivables", "source": "erp", "targets": ("salesforce", "billing"),
     "schedule": "*/15 * * * *"},
)  # fmt: skip


@dataclass(frozen=True)
class SandboxSize:
    """How much CPQ data the Salesforce sandbox is seeded with."""

    accounts: int = 50
    orders: int = 500
    products: int = 20
    invalid_records: bool = True
    page_size: int = 2000
    # Amendments, renewals and a cancellation as CPQ writes them (sandboxes/salesforce/
    # cpq_lifecycle.py); off by default so the seeded counts stay as they are.
    lifecycles: bool = False


class Sandboxes:
    """Salesforce, billing and ERP sandboxes on loopback, started and stopped together."""

    def __init__(self, size: SandboxSize | None = None) -> None:
        size = size or SandboxSize()
        self.salesforce = SalesforceSandbox(
            accounts=size.accounts,
            orders=size.orders,
            products=size.products,
            invalid_records=size.invalid_records,
            page_size=size.page_size,
            lifecycles=size.lifecycles,
        )
        self._page_size = size.page_size
        self.billing = BillingSandbox()
        self.erp = ErpSandbox()

    def start(self) -> Sandboxes:
        """Start all three servers."""
        self.salesforce.start()
        self.billing.start()
        self.erp.start()
        return self

    def stop(self) -> None:
        """Stop all three servers."""
        for sandbox in (self.erp, self.billing, self.salesforce):
            sandbox.stop()

    def __enter__(self) -> Sandboxes:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def settings_document(self, database_url: str) -> dict[str, Any]:
        """The configuration (as a YAML-able dict, secrets in clear) for these sandboxes."""
        salesforce = self.salesforce.connection_values(page_size=self._page_size)
        erp = self.erp.connection_values()
        for unused in ("email", "password"):  # token-based auth; the password flow is a fallback
            erp.pop(unused, None)
        return {
            "database_url": database_url,
            "salesforce": {**salesforce, "ca_bundle": str(salesforce["ca_bundle"])},
            "billing": {"base_url": self.billing.url, "api_key": self.billing.api_key},
            "erp": erp,
            "flows": [dict(flow, targets=list(flow["targets"])) for flow in SANDBOX_FLOWS],
        }

    def settings(self, database_url: str, retry: RetrySettings | None = None) -> Settings:
        """Validated settings for these sandboxes."""
        document = self.settings_document(database_url)
        return Settings(
            database_url=database_url,
            salesforce=SalesforceSettings(**document["salesforce"]),
            billing=BillingSettings(
                base_url=self.billing.url, api_key=SecretStr(self.billing.api_key)
            ),
            erp=ErpSettings(**document["erp"]),
            flows=[FlowSettings(**flow) for flow in document["flows"]],
            retry=retry or RetrySettings(),
        )


def salesforce_settings(sandbox: SalesforceSandbox, **overrides: Any) -> SalesforceSettings:
    """``salesforce`` settings that log in to ``sandbox`` (password flow) and trust its CA."""
    return SalesforceSettings.model_validate(sandbox.connection_values(**overrides))


def erp_settings(sandbox: ErpSandbox, **overrides: Any) -> ErpSettings:
    """``erp`` settings that point at ``sandbox`` with its credentials."""
    return ErpSettings.model_validate(sandbox.connection_values(**overrides))


def write_sandbox_config(path: Path, document: dict[str, Any]) -> None:
    """Write a revbridge config for the sandboxes, readable by its owner only."""
    header = "# revbridge configuration for the loopback sandboxes (throwaway credentials)\n"
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, buffer)
    path.write_text(header + buffer.getvalue(), encoding="utf-8")
    path.chmod(0o600)


def wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        return
