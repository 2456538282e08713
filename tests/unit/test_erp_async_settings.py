"""The async job limits and operation names: refused when impossible, renamed like the others."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import ErpSettings
from connectors.erp.async_lists import AsyncListWriter

TOKEN = {"consumer_key": "ck", "consumer_secret": "cs", "token_id": "t", "token_secret": "ts"}


def _settings(**values: Any) -> ErpSettings:
    return ErpSettings.model_validate({"wsdl_url": "x", "account": "a", **TOKEN, **values})


def test_a_setting_for_async_lists_is_refused_as_unknown() -> None:
    # Measured worse than upsertList, the engine never uses them: no setting pretends otherwise.
    with pytest.raises(ValidationError, match="async_threshold"):
        _settings(async_threshold=5000)


def test_the_async_operations_can_be_renamed_like_the_others() -> None:
    settings = _settings(operations={"async_status": "checkAsyncStatusV2"})

    assert settings.operations["async_status"] == "checkAsyncStatusV2"
    assert settings.operations["async_upsert"] == "asyncUpsertList"


@pytest.mark.parametrize("job_size", [0, 201])
def test_a_job_size_netsuite_would_refuse_is_refused_up_front(job_size: int) -> None:
    with pytest.raises(ValueError, match="job_size must be 1 to 200"):
        AsyncListWriter(None, None, job_size=job_size)  # type: ignore[arg-type]
