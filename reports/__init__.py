"""Reporting on tickets: read outcomes from Temporal's visibility store, compute SLO figures,
suggest targets, and render reports. Temporal is the only source: there is no second database."""
