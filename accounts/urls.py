from django.urls import path

from accounts import views

urlpatterns = [
    path("api-token-auth/", views.ObtainTokenView.as_view(), name="api-token-auth"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("api/confirm-email/", views.ConfirmEmailView.as_view(), name="confirm-email"),
    path(
        "api/confirm-email/resend/",
        views.ResendConfirmationView.as_view(),
        name="confirm-email-resend",
    ),
    path("api/logout/", views.LogoutView.as_view(), name="logout"),
    path("api/token/", views.RateLimitedTokenObtainPairView.as_view(), name="jwt-obtain"),
    path("api/token/refresh/", views.RateLimitedTokenRefreshView.as_view(), name="jwt-refresh"),
]
