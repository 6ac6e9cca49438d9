"""Email templates: built-in defaults, site-wide and per-list overrides, preview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from oak_maillist.api.deps import (
    AdminUser,
    CurrentUser,
    OriginDep,
    OwnedList,
    Principal,
    SessionDep,
)
from oak_maillist.api.v1.schemas.templates import (
    RenderedOut,
    TemplateIn,
    TemplateInfoOut,
    TemplateLanguage,
    TemplateOut,
    TemplatePreviewIn,
    TemplateVariableOut,
)
from oak_maillist.errors import ForbiddenError
from oak_maillist.services import template_catalog, templates
from oak_maillist.services.access import Need, access_list, managed_list_ids

router = APIRouter(tags=["templates"])

NamePath = Annotated[str, Path(max_length=50, description="confirm, welcome, … footer")]
LanguagePath = Annotated[TemplateLanguage, Path()]


async def get_template_editor(principal: CurrentUser, session: SessionDep) -> Principal:
    """Administrators and owners of at least one list: the people who edit templates."""
    owned = await managed_list_ids(session, principal.user, need=Need.OWNER)
    if owned is not None and not owned:
        raise ForbiddenError
    return principal


TemplateEditor = Annotated[Principal, Depends(get_template_editor)]


def _infos(overridden: dict[str, list[str]]) -> list[TemplateInfoOut]:
    return [
        TemplateInfoOut(
            name=spec.name,
            description=spec.description,
            has_subject=spec.has_subject,
            variables=[
                TemplateVariableOut(name=name, description=doc, sample=spec.sample[name])
                for name, doc in spec.variables.items()
            ],
            overridden_languages=overridden[spec.name],  # type: ignore[arg-type]
        )
        for spec in template_catalog.SPECS.values()
    ]


def _out(source: template_catalog.Source, level: str) -> TemplateOut:
    return TemplateOut(
        name=source.name,
        language=source.language,  # type: ignore[arg-type]
        subject=source.subject,
        body=source.body,
        source=source.level,
        overridden=source.level == level,
        updated_at=source.updated_at,
        updated_by_id=source.updated_by_id,
    )


@router.get("/templates")
async def list_site_templates(_admin: AdminUser, session: SessionDep) -> list[TemplateInfoOut]:
    """Every template with its variables and the languages overridden site-wide."""
    return _infos(await templates.overridden_languages(session))


@router.post("/templates/preview")
async def preview_template(
    body: TemplatePreviewIn, principal: TemplateEditor, session: SessionDep
) -> RenderedOut:
    """Render with sample data: the given source, or the template in effect."""
    mlist = None
    if body.list_id is not None:
        mlist = await access_list(session, body.list_id, principal.user, need=Need.OWNER)
    rendered = await templates.preview(
        session,
        name=body.name,
        language=body.language,
        subject=body.subject,
        body=body.body,
        mlist=mlist,
    )
    return RenderedOut(subject=rendered.subject, body=rendered.body)


@router.get("/templates/{name}/{language}")
async def get_site_template(
    name: NamePath, language: LanguagePath, _admin: AdminUser, session: SessionDep
) -> TemplateOut:
    source = await templates.effective(session, name=name, language=language)
    return _out(source, "site")


@router.put("/templates/{name}/{language}")
async def put_site_template(
    name: NamePath,
    language: LanguagePath,
    body: TemplateIn,
    admin: AdminUser,
    session: SessionDep,
    origin: OriginDep,
) -> TemplateOut:
    """Store the site-wide override, after checking it renders with the sample data."""
    source = await templates.save_override(
        session,
        name=name,
        language=language,
        subject=body.subject,
        body=body.body,
        actor=admin.user,
        origin=origin,
    )
    return _out(source, "site")


@router.delete("/templates/{name}/{language}", status_code=status.HTTP_204_NO_CONTENT)
async def reset_site_template(
    name: NamePath, language: LanguagePath, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> None:
    """Back to the built-in default (idempotent)."""
    await templates.reset_override(
        session, name=name, language=language, actor=admin.user, origin=origin
    )


@router.get("/lists/{list_id}/templates")
async def list_list_templates(mlist: OwnedList, session: SessionDep) -> list[TemplateInfoOut]:
    """Every template with its variables and the languages this list overrides."""
    return _infos(await templates.overridden_languages(session, list_id=mlist.id))


@router.get("/lists/{list_id}/templates/{name}/{language}")
async def get_list_template(
    mlist: OwnedList, name: NamePath, language: LanguagePath, session: SessionDep
) -> TemplateOut:
    """The template this list sends: its override, else the site-wide one, else the built-in."""
    source = await templates.effective(session, name=name, language=language, list_id=mlist.id)
    return _out(source, "list")


@router.put("/lists/{list_id}/templates/{name}/{language}")
async def put_list_template(
    mlist: OwnedList,
    name: NamePath,
    language: LanguagePath,
    body: TemplateIn,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> TemplateOut:
    source = await templates.save_override(
        session,
        name=name,
        language=language,
        subject=body.subject,
        body=body.body,
        actor=principal.user,
        origin=origin,
        list_id=mlist.id,
    )
    return _out(source, "list")


@router.delete(
    "/lists/{list_id}/templates/{name}/{language}", status_code=status.HTTP_204_NO_CONTENT
)
async def reset_list_template(
    mlist: OwnedList,
    name: NamePath,
    language: LanguagePath,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> None:
    """Remove the list's override: the site-wide template or the built-in applies again."""
    await templates.reset_override(
        session,
        name=name,
        language=language,
        actor=principal.user,
        origin=origin,
        list_id=mlist.id,
    )
