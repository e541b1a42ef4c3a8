"""Inbound request triage: read a request, propose its queue, priority, language, the entities a
router needs and a note for whoever picks it up; learnt from the queues the team's people chose."""
