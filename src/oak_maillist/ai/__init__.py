"""AI moderation providers: one interface, Aliyun Green, OpenAI-compatible, Rspamd, SpamAssassin.

The posting chain never calls a provider itself: `services.ai_moderation` scores a post in its
own job, outside any database transaction, and stores the verdict the chain then reads.
"""
