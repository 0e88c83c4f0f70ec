"""sfsync: keeps a company's receivables collections work inside Salesforce."""

__version__ = "0.1.0"
