from django.urls import path

from studio.usage import views

app_name = "usage"

urlpatterns = [
    path("", views.usage_page, name="page"),
    path("export.csv", views.usage_csv, name="csv"),
    path("budgets/", views.budgets, name="budgets"),
]
