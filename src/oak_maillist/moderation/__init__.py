"""Deciding what happens to a post: sender policies, the rules of the posting chain, the queue."""
