"""SuiteTalk SOAP faults, classified by the recovery action the engine takes."""

from __future__ import annotations

from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from connectors.erp.records import SYSTEM
from connectors.erp.transport import AUTH_HINT
from connectors.errors import AuthError, ConfigError, ConnectorError, RateLimited, RecordRejected

FAULT_ERRORS: dict[str, type[ConnectorError]] = {
    "invalidCredentialsFault": AuthError,
    "invalidSessionFault": AuthError,
    "invalidAccountFault": AuthError,
    "exceededConcurrentRequestLimitFault": RateLimited,
    "exceededRequestLimitFault": RateLimited,
    "exceededUsageLimitFault": RateLimited,
}
# NetSuite answers a request whose XML breaks its schema (a bad value in one record) with a
# fault instead of a per-record status; the faultstring names the SAX parser.
_SCHEMA_FAULT_MARKER = "org.xml.sax.SAXException"
# Fault codes that blame the data of the records sent rather than the set-up.
_RECORD_FAULT_CODES = ("INVALID_", "USER_ERROR")
_AUTH_CODES = ("INVALID_LOGIN", "INVALID_ACCOUNT", "INVALID_SESSION", "INVALID_VERSION")


def classify_fault(fault: Any) -> ConnectorError:
    """Map a SuiteTalk SOAP fault (``zeep.exceptions.Fault``) to the engine's error class."""
    detail = fault.detail
    suite_fault = None if detail is None else next(iter(detail.iterchildren("{*}*")), None)
    name = "" if suite_fault is None else etree.QName(suite_fault).localname
    code = "" if suite_fault is None else suite_fault.findtext("{*}code", "")
    # NetSuite's sentence ends in a full stop; ours goes on after it ("attempt.; check").
    said = str(fault.message or "").strip().rstrip(".")
    message = f"NetSuite fault {name or fault.code} ({code or 'no code'}): {said}"
    error_class = FAULT_ERRORS.get(name)
    if error_class is AuthError:
        return AuthError(f"{message}; {AUTH_HINT}", system=SYSTEM)
    if error_class is not None:
        return error_class(message, system=SYSTEM)
    if _blames_records(name, code, str(fault.message or "")):
        return RecordRejected(message, system=SYSTEM, code=code or "INVALID_XML")
    return ConfigError(message, system=SYSTEM)


def _blames_records(name: str, code: str, fault_string: str) -> bool:
    if _SCHEMA_FAULT_MARKER in fault_string:
        return True
    if name in {"insufficientPermissionFault", "exceededRecordCountFault"}:
        return False
    return code.startswith(_RECORD_FAULT_CODES) and not code.startswith(_AUTH_CODES)
