"""The product catalogue: SQLModel models, attribute vocabulary, demo data and importers."""
