from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from studio.accounts import users, views
from studio.accounts.forms import FirstPasswordForm, ThrottledAuthenticationForm

user_patterns = [
    path("", users.user_list, name="list"),
    path("add/", users.user_add, name="add"),
    path("<int:pk>/", users.user_detail, name="detail"),
    path("<int:pk>/password-link/", users.user_password_link, name="password_link"),
    path("<int:pk>/active/", users.user_active, name="active"),
    # The link an admin hands over: no sign-in, a one-time token (Django's own views).
    path(
        "password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/set_password.html",
            form_class=FirstPasswordForm,
            success_url=reverse_lazy("users:password_set"),
        ),
        name="set_password",
    ),
    path(
        "password/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_set.html"),
        name="password_set",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            redirect_authenticated_user=True,
            authentication_form=ThrottledAuthenticationForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("users/", include((user_patterns, "users"))),
]
