"""Preset pages: the list, the editor with its live preview, and the list's small actions."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from studio.accounts.roles import OPERATOR, role_required
from studio.library.models import Persona
from studio.presets.demo import ensure_demo_presets
from studio.presets.forms import KEPT_FOLDER, KEPT_SECONDS, PresetForm, kept_picture
from studio.presets.models import Preset
from studio.tavus.languages import LANGUAGES

EDITOR = "presets/edit.html"


def _get_preset_for_user(request: HttpRequest, pk: int) -> Preset:
    # Presets are shared by the whole team: every role may manage every preset.
    return get_object_or_404(Preset.objects.select_related("persona", "replica"), pk=pk)


# --- List ----------------------------------------------------------------------------------


def _list_context(request: HttpRequest) -> dict:
    show_archived = request.GET.get("archived") == "1"
    # NUL never means anything in a search, and PostgreSQL refuses it in a query.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    presets = Preset.objects.filter(archived=show_archived).select_related(
        "persona", "replica", "updated_by", "created_by"
    )
    if q:
        presets = presets.filter(Q(name__icontains=q) | Q(persona__name__icontains=q))
    return {
        "nav": "presets",
        "rows": [(preset, preset.effective_settings()) for preset in presets.pinned_first()],
        "show_archived": show_archived,
        "q": q,
        "archived_count": Preset.objects.filter(archived=True).count(),
        "any_presets": Preset.objects.exists(),
        "has_personas": Persona.objects.present().exists(),
    }


def _list_response(request: HttpRequest) -> HttpResponse:
    template = "presets/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#preset-list"
    return render(request, template, _list_context(request))


@role_required(OPERATOR)
def preset_list(request: HttpRequest) -> HttpResponse:
    made = ensure_demo_presets()
    if made:
        names = " and ".join(f"“{p.name}”" for p in made)
        messages.success(request, f"Welcome! We made {names} so you can launch straight away.")
    return _list_response(request)


def _back_to_list(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return _list_response(request)
    url = reverse("presets:list")
    if request.GET.get("archived") == "1":
        url += "?archived=1"
    return redirect(url)


@role_required(OPERATOR)
@require_POST
def preset_pin(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset_for_user(request, pk)
    preset.touch(request.user, pinned=not preset.pinned)
    if not request.htmx:
        verb = "Pinned" if preset.pinned else "Unpinned"
        messages.success(request, f"{verb} “{preset.name}”.")
    return _back_to_list(request)


@role_required(OPERATOR)
@require_POST
def preset_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    copy = _get_preset_for_user(request, pk).duplicate(request.user)
    messages.success(request, f"Made “{copy.name}”. You're editing the copy.")
    return redirect("presets:edit", pk=copy.pk)


@role_required(OPERATOR)
def preset_archive(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset_for_user(request, pk)
    if request.method == "POST":
        preset.touch(request.user, archived=True, pinned=False)
        messages.success(
            request, f"Archived “{preset.name}”. Find it under “Archived” to bring it back."
        )
        return redirect("presets:list")
    return render(request, "presets/archive.html", {"nav": "presets", "preset": preset})


@role_required(OPERATOR)
@require_POST
def preset_unarchive(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset_for_user(request, pk)
    try:
        preset.unarchive(request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect(reverse("presets:list") + "?archived=1")
    messages.success(request, f"“{preset.name}” is back in the list.")
    return redirect("presets:list")


# --- Editor --------------------------------------------------------------------------------


def _validate_url(preset: Preset) -> str:
    if preset.pk:
        return reverse("presets:validate", args=[preset.pk])
    return reverse("presets:validate_new")


def _effective(form: PresetForm):
    """The preview for whatever the form holds now (valid parts applied), if it has a persona."""
    if not form.instance.persona_id:
        return None
    return form.instance.effective_settings()


def _editor(request: HttpRequest, form: PresetForm, preset: Preset) -> HttpResponse:
    context = {
        "nav": "presets",
        "form": form,
        "preset": preset,
        "effective": _effective(form),
        "languages": LANGUAGES,
    }
    return render(request, EDITOR, context)


def _save(request: HttpRequest, preset: Preset) -> HttpResponse:
    stored_picture = preset.background_image.name if preset.pk else ""
    form = PresetForm(
        request.POST, request.FILES, instance=preset, validate_url=_validate_url(preset)
    )
    valid = form.is_valid()  # also applies the valid fields to form.instance for the preview
    if "_preview" in request.POST or not valid:
        # "_preview" is the no-JavaScript way to refresh the preview without saving.
        form.keep_background()
        return _editor(request, form, preset)
    preset = form.save(commit=False)
    if preset.created_by_id is None and not preset.pk:
        preset.created_by = request.user
    preset.updated_by = request.user
    preset.save()
    form.save_m2m()  # the chosen documents
    preset.forget_background(stored_picture)  # a new picture replaced it
    forget_stale_kept_pictures()
    messages.success(request, f"Saved “{preset.name}”.")
    return redirect("presets:list")


@role_required(OPERATOR)
def preset_new(request: HttpRequest) -> HttpResponse:
    preset = Preset()
    persona_pk = request.GET.get("persona", "")
    if persona_pk.isdigit():
        preset.persona = Persona.objects.present().filter(pk=persona_pk).first()
    if request.method == "POST":
        return _save(request, preset)
    return _editor(request, PresetForm(instance=preset, validate_url=_validate_url(preset)), preset)


@role_required(OPERATOR)
def preset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset_for_user(request, pk)
    if request.method == "POST":
        return _save(request, preset)
    return _editor(request, PresetForm(instance=preset, validate_url=_validate_url(preset)), preset)


@role_required(OPERATOR)
@require_POST
def preset_validate(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """htmx: check the form as it is now; answer with the regions that changed, out of band."""
    preset = _get_preset_for_user(request, pk) if pk else Preset()
    form = PresetForm(
        request.POST, request.FILES, instance=preset, validate_url=_validate_url(preset)
    )
    form.is_valid()  # fills errors and applies the valid fields to form.instance
    context = {"form": form, "preset": preset, "languages": LANGUAGES, "swap_oob": True}
    trigger = request.htmx.trigger_name if request.htmx else None
    parts = []
    for kind, name in form.regions_for(trigger):
        if kind == "section":
            form.quiet_untouched(name)
            parts.append(render_to_string(f"{EDITOR}#section-{name}", context, request))
        else:
            parts.append(
                render_to_string(f"{EDITOR}#field", {**context, "field": form[name]}, request)
            )
    parts.append(render_to_string(f"{EDITOR}#preview", {**context, "effective": _effective(form)}))
    return HttpResponse("".join(parts))


# --- Background picture ----------------------------------------------------------------------

BACKGROUND_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


def serve_background(preset: Preset) -> FileResponse:
    """The preset's background picture, from storage (MEDIA_URL is served only in DEBUG)."""
    return _serve_picture(preset.background_image.name if preset.background_image else "")


def _serve_picture(name: str) -> FileResponse:
    content_type = BACKGROUND_TYPES.get(name[name.rfind(".") :].lower())
    if not content_type:
        raise Http404
    try:
        file = default_storage.open(name, "rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(file, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@role_required(OPERATOR)
def preset_background(request: HttpRequest, pk: int) -> HttpResponse:
    return serve_background(_get_preset_for_user(request, pk))


@role_required(OPERATOR)
def kept_background(request: HttpRequest, token: str) -> HttpResponse:
    """A picture kept from a save that failed, shown on the page that asks to fix the form."""
    name = kept_picture(token)
    if name is None:
        raise Http404
    return _serve_picture(name)


def forget_stale_kept_pictures() -> None:
    """Pictures kept for a form nobody saved in the end are deleted a day later."""
    try:
        _, files = default_storage.listdir(KEPT_FOLDER)
    except FileNotFoundError:
        return
    old = timezone.now() - timedelta(seconds=KEPT_SECONDS)
    for file in files:
        name = f"{KEPT_FOLDER}/{file}"
        used = Preset.objects.filter(background_image=name).exists()
        if not used and default_storage.get_modified_time(name) < old:
            default_storage.delete(name)
