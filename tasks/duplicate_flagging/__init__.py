"""Duplicate-record flagging: find records that describe the same person or company, with reasons."""
