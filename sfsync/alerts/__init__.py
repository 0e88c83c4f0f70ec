"""Manager alerts about stale collections Cases: e-mail, Slack and Teams notifiers behind one
protocol, routing to managers, and de-duplicated, retried delivery (see docs/alerts.md)."""
