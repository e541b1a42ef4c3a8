"""Telling people: the channels a policy names, delivering messages to them, and approval notices."""
