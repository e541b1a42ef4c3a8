"""Report content: fact sheets and their rendering, summaries written from facts, and the figures checked against them."""
