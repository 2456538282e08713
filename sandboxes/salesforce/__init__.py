"""A loopback Salesforce org: REST query, sObject Collections, Composite, Bulk 2.0, CPQ seed."""
