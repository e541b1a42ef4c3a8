"""The invoice workflow's own logic: reading documents, extracting fields, proposing postings."""
