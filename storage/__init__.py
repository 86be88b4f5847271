"""Persistence: SQLAlchemy models, engine and session factory, the incident repository, the outbox."""
