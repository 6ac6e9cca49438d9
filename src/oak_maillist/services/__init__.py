"""Business logic: module-level async functions, session first, called by the edges."""
