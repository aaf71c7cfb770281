from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from northstar.api import api
from northstar.gitserver.http import git_http


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    re_path(r"^git/(?P<project>[^/]+)/(?P<repo>[^/]+)\.git/(?P<path>.*)$", git_http, name="git-http"),
    path("api/v1/", api.urls),
    path("healthz", healthz),
    path("", include("northstar.web.urls")),
]
