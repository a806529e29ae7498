from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse


@login_not_required
def not_ready(request):
    return JsonResponse({"message": "Sandbox not built yet"}, status=503)
