"""Email templates as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from oak_maillist.api.deps import MAX_ID
from oak_maillist.services.template_catalog import MAX_BODY, MAX_SUBJECT

TemplateLanguage = Literal["en", "zh-CN"]


class TemplateVariableOut(BaseModel):
    name: str
    description: str
    sample: Any = Field(description="The value previews use")


class TemplateInfoOut(BaseModel):
    """One kind of mail and the languages overridden at this level (site-wide or the list)."""

    name: str
    description: str
    has_subject: bool = Field(description="False for the footer, which is body only")
    variables: list[TemplateVariableOut]
    overridden_languages: list[TemplateLanguage]


class TemplateOut(BaseModel):
    """The template in effect at this level and where it comes from."""

    name: str
    language: TemplateLanguage
    subject: str
    body: str
    source: Literal["list", "site", "builtin"]
    overridden: bool = Field(description="True when this level has its own override")
    updated_at: datetime | None
    updated_by_id: int | None


class TemplateIn(BaseModel):
    subject: str = Field(
        default="", max_length=MAX_SUBJECT, description="One line; empty for footer"
    )
    body: str = Field(max_length=MAX_BODY)


class TemplatePreviewIn(BaseModel):
    """Render `subject`/`body` (or the template in effect, for what is left out) with samples."""

    name: str = Field(min_length=1, max_length=50, description="confirm, welcome, … footer")
    language: TemplateLanguage = "en"
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    body: str | None = Field(default=None, max_length=MAX_BODY)
    list_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Preview as this list (which you own) sends it"
    )


class RenderedOut(BaseModel):
    subject: str
    body: str
