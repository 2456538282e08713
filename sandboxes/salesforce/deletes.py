"""sObject Collections delete in the Salesforce sandbox: records go to the recycle bin.

``DELETE /services/data/vXX.X/composite/sobjects?ids=...&allOrNone=false`` answers one result
per id, in order: ``ENTITY_IS_DELETED`` for a record already in the bin, ``NOT_FOUND`` for an
id the org never had, ``DELETE_FAILED`` for an Account that live Orders still use (as an org
refuses it), so a client must delete children first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.salesforce.writes import SandboxError

if TYPE_CHECKING:
    from sandboxes.salesforce.org import SandboxOrg

MAX_IDS = 200


def _error(record_id: str, code: str, message: str) -> dict[str, Any]:
    return {"id": record_id, "success": False,
            "errors": [{"statusCode": code, "message": message, "fields": []}]}  # fmt: skip


def _in_use(org: SandboxOrg, object_name: str, record_id: str) -> list[str]:
    if object_name != "Account":
        return []
    orders = org.records_of("Order")
    return [o["Id"] for o in orders if o.get("AccountId") == record_id and not o["IsDeleted"]]


def _delete_one(org: SandboxOrg, record_id: str) -> dict[str, Any]:
    object_name = next((name for name, rows in org.records.items() if record_id in rows), None)
    if object_name is None:
        return _error(record_id, "NOT_FOUND", "Provided external ID field does not exist")
    if org.records[object_name][record_id]["IsDeleted"]:
        return _error(record_id, "ENTITY_IS_DELETED", "entity is deleted")
    orders = _in_use(org, object_name, record_id)
    if orders:
        message = (
            f"Your attempt to delete {record_id} could not be completed because it is "
            f"associated with the following orders: {', '.join(orders[:3])}"
        )
        return _error(record_id, "DELETE_FAILED", message)
    org.delete_record(object_name, record_id)
    return {"id": record_id, "success": True, "errors": []}


def delete_collection(org: SandboxOrg, params: dict[str, str]) -> list[dict[str, Any]]:
    """Delete the ``ids`` of the query string; one result per id, in order."""
    ids = [i for i in params.get("ids", "").split(",") if i]
    if not ids or len(ids) > MAX_IDS:
        raise SandboxError(400, "INVALID_FIELD", f"ids takes 1 to {MAX_IDS} record ids")
    if params.get("allOrNone", "false").lower() == "true":
        raise SandboxError(400, "INVALID_FIELD", "the sandbox supports allOrNone=false only")
    with org.lock:
        return [_delete_one(org, record_id) for record_id in ids]
