"""Objectives and guardrails pages: the objectives builder (steps drawn as a flow) and the
guardrails editor. Personas choose them in the persona editor.

Everyone with a role may look; only admins create, change or delete them, as with personas:
they change how every conversation of a persona behaves.
"""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, OPERATOR, has_role, role_required
from studio.knowledge.forms import GuardrailForm, ObjectiveSetForm, StepForm, StepFormSet, ToolForm
from studio.knowledge.models import Guardrail, ObjectiveSet, Tool, sync_behaviour
from studio.library.models import Persona
from studio.tavus import behaviour as tavus_behaviour
from studio.tavus import client as tavus


def _get_for_user(request: HttpRequest, model, pk: int, manage: bool = False):
    found = get_object_or_404(model, pk=pk)
    if manage and not has_role(request.user, ADMIN):
        raise PermissionDenied("Only admins change objectives and guardrails.")
    return found


def _first_visit_sync(request: HttpRequest) -> None:
    if ObjectiveSet.objects.exists() or Guardrail.objects.exists():
        return
    try:
        sync_behaviour()
    except tavus.TavusError as error:
        messages.error(request, f"{error.message} The lists here may be incomplete.")


@role_required(ADMIN)
@require_POST
def behaviour_sync(request: HttpRequest) -> HttpResponse:
    try:
        sets, rules = sync_behaviour()
    except tavus.TavusError as error:
        messages.error(request, f"{error.message} Nothing was changed.")
    else:
        messages.success(request, f"Synced {sets} objectives set(s) and {rules} guardrail(s).")
    return redirect(request.POST.get("next") or "knowledge:objectives")


# --- Objectives ----------------------------------------------------------------------------------


@role_required(OPERATOR)
def objectives(request: HttpRequest) -> HttpResponse:
    _first_visit_sync(request)
    return _list_page(request, "objectives", sets=ObjectiveSet.objects.all())


def _list_page(request: HttpRequest, tab: str, **items) -> HttpResponse:
    context = {"nav": "knowledge", "tab": tab, **items, "can_manage": has_role(request.user, ADMIN)}
    return render(request, f"knowledge/{tab}.html", context)


def _objectives_editor(request, form, steps, found=None) -> HttpResponse:
    context = {"nav": "knowledge", "tab": "objectives", "form": form, "steps": steps, "set": found}
    return render(request, "knowledge/objectives_form.html", context)


@role_required(ADMIN)
def objectives_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    found = _get_for_user(request, ObjectiveSet, pk, manage=True) if pk else None
    if request.method != "POST":
        initial = [StepForm.initial_of(item) for item in found.items] if found else []
        form = ObjectiveSetForm(initial={"name": found.name} if found else None)
        return _objectives_editor(request, form, StepFormSet(initial=initial, prefix="step"), found)
    form = ObjectiveSetForm(request.POST)
    steps = StepFormSet(request.POST, prefix="step")
    if not (form.is_valid() and steps.is_valid()):
        return _objectives_editor(request, form, steps, found)
    items, name = steps.items(), form.cleaned_data["name"].strip()
    try:
        if found:
            tavus_behaviour.update_objectives(found.objectives_id, items)
        else:
            found = ObjectiveSet(objectives_id=tavus_behaviour.create_objectives(items, name))
    except tavus.TavusError as error:
        form.add_error(None, f"{error.message} Nothing was saved, here or at Tavus.")
        return _objectives_editor(request, form, steps, found if found and found.pk else None)
    found.name, found.items = name, items
    found.save()
    audit("objectives saved", request=request, target=name, detail=found.objectives_id)
    messages.success(request, f"Saved “{name}” at Tavus. Choose it for a persona in the Library.")
    return redirect("knowledge:objectives")


@role_required(ADMIN)
def objectives_delete(request: HttpRequest, pk: int) -> HttpResponse:
    found = _get_for_user(request, ObjectiveSet, pk, manage=True)
    return _delete(
        request,
        found,
        lambda: tavus_behaviour.delete_objectives(found.objectives_id),
        "knowledge:objectives",
    )


# --- Guardrails ----------------------------------------------------------------------------------


@role_required(OPERATOR)
def guardrails(request: HttpRequest) -> HttpResponse:
    _first_visit_sync(request)
    return _list_page(request, "guardrails", rules=Guardrail.objects.all())


@role_required(ADMIN)
def guardrail_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    found = _get_for_user(request, Guardrail, pk, manage=True) if pk else None
    initial = None
    if found:
        initial = {"name": found.name, "prompt": found.prompt, "modality": found.modality}
        initial.update(tags=found.tags, app_message=found.app_message)
    form = GuardrailForm(request.POST or None, initial=initial, existing=found)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if found:
                tavus_behaviour.update_guardrail(
                    found.guardrail_id,
                    guardrail_prompt=data["prompt"],
                    tags=data["tags"],
                    modality=data["modality"],
                )
                found.prompt, found.tags, found.modality = (
                    data["prompt"],
                    data["tags"],
                    data["modality"],
                )
                found.save()
            else:
                found = Guardrail.store(
                    tavus_behaviour.create_guardrail(
                        data["name"],
                        data["prompt"],
                        modality=data["modality"],
                        tags=data["tags"],
                        app_message=data["app_message"],
                    )
                )
        except tavus.TavusError as error:
            form.add_error(None, f"{error.message} Nothing was saved, here or at Tavus.")
        else:
            audit("guardrail saved", request=request, target=found.name, detail=found.guardrail_id)
            messages.success(request, f"Saved the guardrail “{found.name}” at Tavus.")
            return redirect("knowledge:guardrails")
    context = {"nav": "knowledge", "tab": "guardrails", "form": form, "rule": found}
    return render(request, "knowledge/guardrail_form.html", context)


@role_required(ADMIN)
def guardrail_delete(request: HttpRequest, pk: int) -> HttpResponse:
    found = _get_for_user(request, Guardrail, pk, manage=True)
    return _delete(
        request,
        found,
        lambda: tavus_behaviour.delete_guardrail(found.guardrail_id),
        "knowledge:guardrails",
    )


def _delete(request: HttpRequest, found, delete_at_tavus, back: str) -> HttpResponse:
    """Confirm (naming the personas that use it), delete at Tavus, then here."""
    context = {"nav": "knowledge", "thing": found, "personas": found.personas_using(), "back": back}
    if request.method != "POST":
        return render(request, "knowledge/confirm_delete.html", context)
    if not found.vanished:
        try:
            delete_at_tavus()
        except tavus_behaviour.NotAtTavus:
            pass  # already gone there
        except tavus.TavusError as error:
            context["error"] = f"{error.message} Nothing was deleted."
            return render(request, "knowledge/confirm_delete.html", context)
    audit("deleted", request=request, target=str(found))
    found.delete()
    messages.success(request, f"Deleted “{found}”.")
    return redirect(back)


# --- Tools registry ------------------------------------------------------------------------------


@role_required(OPERATOR)
def tools(request: HttpRequest) -> HttpResponse:
    if not Tool.objects.exists():
        try:
            for item in tavus_behaviour.iter_tools():
                Tool.store(item)
        except tavus.TavusError as error:
            messages.error(request, f"{error.message} The list here may be incomplete.")
    return _list_page(request, "tools", tools=Tool.objects.all())


@role_required(ADMIN)
def tool_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    found = _get_for_user(request, Tool, pk, manage=True) if pk else None
    initial = None
    if found:
        initial = {
            "name": found.name,
            "description": found.description,
            "parameters": json.dumps(found.parameters, indent=2) if found.parameters else "",
            "trigger_type": found.trigger_type,
            "api_url": found.api_url,
            "api_method": found.api_method or "POST",
            "answer_url": found.answer_url,
        }
    form = ToolForm(request.POST or None, initial=initial, existing=found)
    if request.method == "POST" and form.is_valid():
        try:
            if found:
                item = tavus_behaviour.update_tool(found.tool_id, form.body())
            else:
                item = tavus_behaviour.create_tool(form.body())
        except tavus.InvalidRequest as error:
            form.add_error(None, f"{error.message} Nothing was saved.")
        except tavus.TavusError as error:
            form.add_error(None, f"{error.message} Nothing was saved, here or at Tavus.")
        else:
            saved = Tool.store(item)
            # The studio's own setting: Tavus never hears of it.
            saved.answer_url = form.cleaned_data["answer_url"]
            saved.save(update_fields=["answer_url", "updated_at"])
            answered = f", answered by {saved.answer_host}" if saved.answer_url else ""
            audit("tool saved", request=request, target=saved.name, detail=saved.tool_id + answered)
            messages.success(request, f"Saved the tool “{saved.name}” at Tavus.")
            return redirect("knowledge:tools")
    context = {"nav": "knowledge", "tab": "tools", "form": form, "tool": found}
    return render(request, "knowledge/tool_form.html", context)


@role_required(ADMIN)
def tool_delete(request: HttpRequest, pk: int) -> HttpResponse:
    found = _get_for_user(request, Tool, pk, manage=True)
    return _delete(
        request, found, lambda: tavus_behaviour.delete_tool(found.tool_id), "knowledge:tools"
    )


@role_required(ADMIN)
@require_POST
def tools_attach(request: HttpRequest, persona_pk: int) -> HttpResponse:
    """Let a persona call more tools (Tavus documents attaching, not detaching)."""
    persona = get_object_or_404(Persona, pk=persona_pk, vanished=False)
    wanted = Tool.objects.filter(pk__in=request.POST.getlist("tools"), vanished=False)
    new = [t.tool_id for t in wanted if persona.persona_id not in t.persona_ids]
    if not new:
        messages.info(request, "Pick a tool it doesn't have yet.")
        return redirect("library:persona_detail", pk=persona.pk)
    try:
        attached = tavus_behaviour.attach_tools(persona.persona_id, new)
    except tavus.TavusError as error:
        messages.error(request, f"{error.message} Nothing was attached.")
        return redirect("library:persona_detail", pk=persona.pk)
    for item in attached:
        tool = Tool.store(item)
        if persona.persona_id not in tool.persona_ids:
            tool.persona_ids = [*tool.persona_ids, persona.persona_id]
            tool.save(update_fields=["persona_ids", "updated_at"])
    audit("tools attached", request=request, target=persona.name, detail=", ".join(new))
    messages.success(request, f"“{persona}” can now use {len(new)} more tool(s).")
    return redirect("library:persona_detail", pk=persona.pk)
