"""revbridge's compact NetSuite SuiteTalk WSDL, served by the ERP sandbox."""
