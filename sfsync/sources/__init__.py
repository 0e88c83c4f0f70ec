"""Accounting adapters behind one InvoiceSource protocol."""
