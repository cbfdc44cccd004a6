"""One module per helpdesk: how it signs a delivery and how its payloads read."""
