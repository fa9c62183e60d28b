"""Turning raw log text into records: clean, tokenise and parse, assemble."""
