"""Reading untrusted inputs: isolated, bounded readers, tabular records, CSV rows that would break a batch, quarantine."""
