"""The weekly operations summary: facts computed deterministically, phrased by a model or a template."""
