"""Prometheus metrics shared by every part of the service (the HTTP edge serves them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "oak_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "oak_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SMTP_SESSIONS = Counter(
    "oak_smtp_sessions_total",
    "SMTP/LMTP connections accepted, by listener.",
    ["listener"],
    registry=REGISTRY,
)
SMTP_ACTIVE_SESSIONS = Gauge(
    "oak_smtp_active_sessions",
    "SMTP/LMTP connections open now.",
    registry=REGISTRY,
)
SMTP_REPLIES = Counter(
    "oak_smtp_replies_total",
    "SMTP replies that refused a command or message, by enhanced status code.",
    ["code"],
    registry=REGISTRY,
)
MESSAGES_RECEIVED = Counter(
    "oak_messages_received_total",
    "Messages accepted with 250 and stored.",
    registry=REGISTRY,
)
MESSAGES_DECIDED = Counter(
    "oak_messages_decided_total",
    "Posts through the posting chain, by outcome (accept, hold, reject, discard).",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "oak_deliveries_total",
    "Delivery attempts, by outcome (sent, deferred, failed, bounced).",
    ["outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "oak_queue_depth",
    "Work waiting in the database, by kind (inbound, delivery, moderation).",
    ["kind"],
    registry=REGISTRY,
)
JOBS = Counter(
    "oak_jobs_total",
    "Background jobs run, by task name and outcome (ok, error).",
    ["task", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "oak_job_duration_seconds",
    "Background job run time, by task name.",
    ["task"],
    registry=REGISTRY,
)
INBOUND_STAGE_SECONDS = Histogram(
    "oak_inbound_stage_seconds",
    "Time a batch of stored messages spent in each stage of processing: claim (marking them"
    " taken), wait (for the batch before it), begin (waiting for the transaction: SQLite's"
    " write lock), read (their rows), prepare (parsing; what the posts ask of their lists"
    " and the archive), decide (the posting chain, mail commands), write (archive rows,"
    " threads, search index on SQLite, outcomes), commit, index (the search index, written"
    " after the commit on PostgreSQL and MySQL/MariaDB while the next batch goes on).",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
    registry=REGISTRY,
)
INBOUND_TRANSACTION_MESSAGES = Histogram(
    "oak_inbound_transaction_messages",
    "Stored messages processed per transaction (on SQLite a batch commits early when the SMTP"
    " edge waits for the write lock).",
    buckets=(1, 2, 4, 8, 16, 32),
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "oak_build_info",
    "Version of the running service (value is always 1).",
    ["version"],
    registry=REGISTRY,
)
