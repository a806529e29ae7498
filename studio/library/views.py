"""Library pages: replicas and personas mirrored from Tavus, and the persona editor."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, OPERATOR, has_role, role_required
from studio.knowledge.models import behaviour_of, tools_of
from studio.library.forms import PersonaForm
from studio.library.models import (
    Persona,
    Replica,
    last_synced,
    sync_personas,
    sync_replicas,
)
from studio.tavus import client as tavus
from studio.tavus import layers as tavus_layers


def tavus_problem(error: tavus.TavusError) -> str:
    """A Tavus failure in plain words, saying that our copy was left alone."""
    if isinstance(error, tavus.TavusUnavailable):
        return f"{error.message} The library here is unchanged."
    return f"{error.message} Nothing was changed."


def _filters(params, types) -> dict:
    kind = params.get("type", "")
    # NUL never means anything in a search, and PostgreSQL refuses it in a query.
    q = params.get("q", "").replace("\x00", "").strip()[:100]
    return {"type": kind if kind in types else "", "q": q}


def _get_persona_for_user(request: HttpRequest, pk: int, edit: bool = False) -> Persona:
    persona = get_object_or_404(Persona, pk=pk)
    if edit and not has_role(request.user, ADMIN):
        raise PermissionDenied("Only admins change personas.")
    return persona


def _read_only_reason(persona: Persona) -> str:
    if persona.is_stock:
        return "Stock personas belong to Tavus and can't be changed. Duplicate it to edit a copy."
    if persona.vanished:
        return "This persona is no longer at Tavus, so it can't be changed."
    return ""


# --- Replicas ------------------------------------------------------------------------------


def _replicas_context(request: HttpRequest, params) -> dict:
    filters = _filters(params, Replica.Type.values)
    replicas = Replica.objects.all()
    if filters["type"]:
        replicas = replicas.filter(replica_type=filters["type"])
    if filters["q"]:
        replicas = replicas.filter(
            Q(name__icontains=filters["q"]) | Q(replica_id__iexact=filters["q"])
        )
    return {
        "nav": "library",
        "tab": "replicas",
        "replicas": replicas,
        "filters": filters,
        "types": Replica.Type.choices,
        "total": Replica.objects.count(),
        "last_synced": last_synced(Replica),
        "can_manage": has_role(request.user, ADMIN),
    }


@role_required(OPERATOR)
def replicas(request: HttpRequest) -> HttpResponse:
    sync_result = sync_error = None
    if not Replica.objects.exists():
        # First visit of an empty library: fetch it, so nobody starts at a blank page.
        try:
            sync_result = sync_replicas()
        except tavus.TavusError as error:
            sync_error = tavus_problem(error)
    context = _replicas_context(request, request.GET)
    context.update(sync_result=sync_result, sync_error=sync_error)
    template = "library/replicas.html"
    if request.htmx and not request.htmx.boosted:
        template += "#replica-region"
    return render(request, template, context)


@role_required(ADMIN)
@require_POST
def replicas_sync(request: HttpRequest) -> HttpResponse:
    return _sync(
        request,
        sync_replicas,
        "library:replicas",
        _replicas_context,
        "library/replicas.html#replica-region",
    )


def _sync(request: HttpRequest, sync, list_url: str, context_for, region: str) -> HttpResponse:
    """Mirror Tavus's list into the library: a message and the list without htmx, else the
    list region re-rendered (with the current filters) and the outcome above it."""
    sync_result = sync_error = None
    try:
        sync_result = sync()
    except tavus.TavusError as error:
        sync_error = tavus_problem(error)
    if not request.htmx:
        if sync_error:
            messages.error(request, sync_error)
        else:
            messages.success(request, str(sync_result))
        return redirect(list_url)
    context = context_for(request, request.POST)
    context.update(sync_result=sync_result, sync_error=sync_error)
    return render(request, region, context)


# --- Personas ------------------------------------------------------------------------------


def _personas_context(request: HttpRequest, params) -> dict:
    filters = _filters(params, Persona.Type.values)
    # Explicit order: Meta.ordering is not applied to queries with aggregates.
    personas = Persona.objects.annotate(
        preset_count=Count("presets", filter=Q(presets__archived=False))
    ).order_by("vanished", "-persona_type", "name", "persona_id")
    if filters["type"]:
        personas = personas.filter(persona_type=filters["type"])
    if filters["q"]:
        personas = personas.filter(
            Q(name__icontains=filters["q"]) | Q(persona_id__iexact=filters["q"])
        )
    faces = {r.replica_id: r for r in Replica.objects.all()}
    rows = [(p, faces.get(p.default_replica_id)) for p in personas]
    return {
        "nav": "library",
        "tab": "personas",
        "rows": rows,
        "filters": filters,
        "types": Persona.Type.choices,
        "total": Persona.objects.count(),
        "last_synced": last_synced(Persona),
        "can_manage": has_role(request.user, ADMIN),
    }


@role_required(OPERATOR)
def personas(request: HttpRequest) -> HttpResponse:
    sync_result = sync_error = None
    if not Persona.objects.exists():
        try:
            if not Replica.objects.exists():
                sync_replicas()  # so the default faces show
            sync_result = sync_personas()
        except tavus.TavusError as error:
            sync_error = tavus_problem(error)
    context = _personas_context(request, request.GET)
    context.update(sync_result=sync_result, sync_error=sync_error)
    template = "library/personas.html"
    if request.htmx and not request.htmx.boosted:
        template += "#persona-region"
    return render(request, template, context)


@role_required(ADMIN)
@require_POST
def personas_sync(request: HttpRequest) -> HttpResponse:
    return _sync(
        request,
        sync_personas,
        "library:personas",
        _personas_context,
        "library/personas.html#persona-region",
    )


@role_required(OPERATOR)
def persona_detail(request: HttpRequest, pk: int) -> HttpResponse:
    persona = _get_persona_for_user(request, pk)
    return render(
        request,
        "library/persona_detail.html",
        {
            "nav": "library",
            "tab": "personas",
            "persona": persona,
            "face": persona.default_replica,
            "presets": persona.presets.order_by("archived", "name"),
            "read_only_reason": _read_only_reason(persona),
            "can_manage": has_role(request.user, ADMIN),
            **behaviour_of(persona),
            **tools_of(persona),
        },
    )


def _editor(request, form, persona=None, source=None, status=200) -> HttpResponse:
    return render(
        request,
        "library/persona_form.html",
        {
            "nav": "library",
            "tab": "personas",
            "form": form,
            "persona": persona,
            "source": source,
            "layer_lists_source": tavus_layers.LISTS_SOURCE,
            "layer_lists_checked": tavus_layers.LISTS_CHECKED,
        },
        status=status,
    )


@role_required(ADMIN)
def persona_new(request: HttpRequest) -> HttpResponse:
    # "Duplicate to edit": start from a copy of another persona, keeping its other settings.
    source_pk = request.POST.get("source") or request.GET.get("from")
    source = Persona.objects.filter(pk=source_pk).first() if str(source_pk).isdigit() else None
    if request.method != "POST":
        initial = PersonaForm.initial_from(source, copy_of=True) if source else None
        return _editor(request, PersonaForm(initial=initial), source=source)
    # The copy's current values (deprecated ones too) stay valid choices, as on the GET.
    initial = PersonaForm.initial_from(source, copy_of=True) if source else None
    form = PersonaForm(request.POST, initial=initial)
    if not form.is_valid():
        return _editor(request, form, source=source)
    body = form.create_body(source.layers if source else None)
    try:
        created = tavus.create_persona(body)
    except tavus.InvalidRequest as error:
        form.add_tavus_error(error)
        return _editor(request, form, source=source)
    except tavus.TavusError as error:
        form.add_error(None, f"{error.message} Nothing was created.")
        return _editor(request, form, source=source)
    persona = Persona.store(created, persona_type=Persona.Type.USER, sent=body)
    audit("persona created", request=request, target=persona.name, detail=persona.persona_id)
    messages.success(request, f"Created the persona “{persona.name}” at Tavus.")
    return redirect("library:persona_detail", pk=persona.pk)


@role_required(ADMIN)
def persona_edit(request: HttpRequest, pk: int) -> HttpResponse:
    persona = _get_persona_for_user(request, pk, edit=True)
    if reason := _read_only_reason(persona):
        messages.info(request, reason)
        return redirect("library:persona_detail", pk=persona.pk)
    if request.method != "POST":
        form = PersonaForm(initial=PersonaForm.initial_from(persona), persona=persona)
        return _editor(request, form, persona)
    form = PersonaForm(request.POST, initial=PersonaForm.initial_from(persona), persona=persona)
    if not form.is_valid():
        return _editor(request, form, persona)
    operations = form.patch_operations(persona)
    if not operations:
        messages.info(request, "Nothing changed, so nothing was sent to Tavus.")
        return redirect("library:persona_detail", pk=persona.pk)
    try:
        changed = tavus.patch_persona(persona.persona_id, operations)
    except tavus.InvalidRequest as error:
        form.add_tavus_error(error)
        return _editor(request, form, persona)
    except tavus.TavusError as error:
        form.add_error(None, f"{error.message} Nothing was saved, here or at Tavus.")
        return _editor(request, form, persona)
    persona.apply_tavus_changes(form.changed_fields())
    audit(
        "persona changed",
        request=request,
        target=persona.name,
        detail=", ".join(op["path"] for op in operations),
    )
    if changed:
        messages.success(request, f"Saved “{persona.name}” at Tavus.")
    else:
        messages.info(request, "Tavus says nothing changed.")
    return redirect("library:persona_detail", pk=persona.pk)


@role_required(ADMIN)
def persona_delete(request: HttpRequest, pk: int) -> HttpResponse:
    persona = _get_persona_for_user(request, pk, edit=True)
    if persona.is_stock:
        messages.info(request, _read_only_reason(persona))
        return redirect("library:persona_detail", pk=persona.pk)
    presets = persona.presets.order_by("archived", "name")
    context = {"nav": "library", "tab": "personas", "persona": persona, "presets": presets}
    if request.method != "POST":
        return render(request, "library/persona_delete.html", context)
    if not persona.vanished:
        try:
            tavus.delete_persona(persona.persona_id)
        except tavus.InvalidRequest:
            pass  # Tavus no longer knows it: what we wanted anyway.
        except tavus.TavusError as error:
            context["error"] = f"{error.message} The persona was not deleted."
            return render(request, "library/persona_delete.html", context)
    name = persona.name
    audit("persona deleted", request=request, target=name, detail=persona.persona_id)
    if presets.exists():
        # Presets keep pointing at it (they refuse to launch until given another persona).
        Persona.objects.filter(pk=persona.pk).update(vanished=True)
        messages.success(
            request,
            f"Deleted “{name}” at Tavus. {presets.count()} preset(s) still name it: "
            "give them another persona before launching them.",
        )
    else:
        persona.delete()
        messages.success(request, f"Deleted “{name}”.")
    return redirect("library:personas")
