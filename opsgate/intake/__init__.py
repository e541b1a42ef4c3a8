"""Intake: where a workflow's inputs come from besides a folder of files (a real mailbox over IMAP)."""
