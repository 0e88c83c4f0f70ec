"""Alert notifiers (e-mail, Slack, Teams, Chatter) behind one protocol."""
