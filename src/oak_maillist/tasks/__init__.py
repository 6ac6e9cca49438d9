"""The job edge: broker selection, job registry, worker and scheduler."""
