"""Salesforce (CPQ and Billing objects) over simple-salesforce: REST, Composite, Bulk API 2.0."""
