"""SLA policies: business calendars and the arithmetic of business time."""
