"""The Salesforce gateway: auth, client factory, batching, pagination, errors, API budget."""
