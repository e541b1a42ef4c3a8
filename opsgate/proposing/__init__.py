"""What workflows propose with: the LLM client and versioned instruction (prompt) files."""
