"""Loopback sandbox servers that behave like Salesforce, the billing API and the ERP.

They run in-process on free ports so the real client libraries (simple-salesforce, requests,
zeep) talk to them over real HTTP. They power ``revbridge demo``, the tests and the benchmarks.
"""
