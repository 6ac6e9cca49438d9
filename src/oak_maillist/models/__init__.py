"""ORM classes only; importing this package registers every table on Base.metadata."""

from oak_maillist.models.activity import ActivityLog
from oak_maillist.models.auth import (
    AuthChallenge,
    BackupCode,
    Passkey,
    RefreshToken,
    UserInvitation,
    UserSession,
)
from oak_maillist.models.bounce import Bounce, Digest
from oak_maillist.models.delivery import (
    Delivery,
    DeliveryStatus,
    OutboundMessage,
    PendingFanout,
)
from oak_maillist.models.domain import Domain
from oak_maillist.models.job import FailedJob
from oak_maillist.models.mailing_list import (
    ListRole,
    ListRoleName,
    MailingList,
    PostingPolicy,
    SubscriptionPolicy,
    Visibility,
)
from oak_maillist.models.message import Attachment, InboundMessage, InboundStatus, Message
from oak_maillist.models.moderation import AiFeedback, AiModerationResult, HeldMessage, HeldStatus
from oak_maillist.models.policy import PatternType, PolicyKind, SenderPolicy
from oak_maillist.models.setting import SystemSetting
from oak_maillist.models.subscriber import (
    DigestFormat,
    DigestMode,
    Subscriber,
    SubscriberStatus,
    SubscriptionRequest,
)
from oak_maillist.models.template import EmailTemplate
from oak_maillist.models.thread import Thread
from oak_maillist.models.user import SystemRole, User

__all__ = [
    "ActivityLog",
    "AiFeedback",
    "AiModerationResult",
    "Attachment",
    "AuthChallenge",
    "BackupCode",
    "Bounce",
    "Delivery",
    "DeliveryStatus",
    "Digest",
    "DigestFormat",
    "DigestMode",
    "Domain",
    "EmailTemplate",
    "FailedJob",
    "HeldMessage",
    "HeldStatus",
    "InboundMessage",
    "InboundStatus",
    "ListRole",
    "ListRoleName",
    "MailingList",
    "Message",
    "OutboundMessage",
    "Passkey",
    "PatternType",
    "PendingFanout",
    "PolicyKind",
    "PostingPolicy",
    "RefreshToken",
    "SenderPolicy",
    "Subscriber",
    "SubscriberStatus",
    "SubscriptionPolicy",
    "SubscriptionRequest",
    "SystemRole",
    "SystemSetting",
    "Thread",
    "User",
    "UserInvitation",
    "UserSession",
    "Visibility",
]
