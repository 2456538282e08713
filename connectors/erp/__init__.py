"""The ERP (NetSuite SuiteTalk) over SOAP with zeep, generic over its WSDL."""
