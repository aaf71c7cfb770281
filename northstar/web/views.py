from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from northstar.projects.services import visible_projects


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.user).order_by("name")  # type: ignore[arg-type]
    return render(request, "northstar/home.html", {"projects": projects})
