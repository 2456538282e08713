"""The delete policies a flow may name per entity, as the configuration spells them.

``deactivate`` sends the record once more in its "no longer active" state, ``ignore`` only
records the deletion and ``propagate`` deletes the record in each target. What a target cannot
do is checked by the connector profile that knows it (``load_settings(..., checks=...)``).
"""

from __future__ import annotations

from typing import Literal

DeletePolicyName = Literal["deactivate", "ignore", "propagate"]
