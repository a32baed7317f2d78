"""Repositories: the state kept in the store's meta beside the data (registry, profiles, migration records)."""
