"""A loopback NetSuite SuiteTalk SOAP service that serves its own WSDL."""
