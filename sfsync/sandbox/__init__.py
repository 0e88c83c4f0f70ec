"""The local Salesforce org: HTTPS server, SQLite storage, SOQL, describe, limits, faults."""
