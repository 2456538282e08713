"""Files ``revbridge init`` copies into a new project (package data)."""
