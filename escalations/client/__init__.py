"""The Python client library: open, steer and read tickets (:class:`TicketClient`), update many
at once (:mod:`.bulk`), install the SLO schedules (:mod:`.schedules`)."""

from escalations.client.tickets import TicketClient

__all__ = ["TicketClient"]
